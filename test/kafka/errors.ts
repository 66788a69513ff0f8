import { LogferryError } from '../../src/model/errors.ts';

/**
 * The test broker could not be set up (Java or Maven missing, jars not resolvable, broker did not
 * start). Test-only, so it lives here rather than in the product's catalog; the message is one line
 * that says what to do.
 */
export class KafkaHarnessError extends LogferryError {
  override readonly code = 'LOGFERRY_ERR_TEST_KAFKA';
}

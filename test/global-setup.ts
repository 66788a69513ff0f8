/**
 * `node --test --test-global-setup=test/global-setup.ts`: one real Kafka broker for the whole run.
 * Its address reaches every test file (each runs in a child process started after this) through
 * LOGFERRY_TEST_BOOTSTRAP; test files read it with testBroker() from test/kafka/index.ts.
 * With LOGFERRY_TEST_BOOTSTRAP already set, that broker is used and none is started.
 */
import { type KafkaBroker, startBroker } from './kafka/broker.ts';
import { KafkaHarnessError } from './kafka/errors.ts';
import { BOOTSTRAP_ENV } from './kafka/index.ts';

let broker: KafkaBroker | undefined;

export async function globalSetup(): Promise<void> {
  if (process.env[BOOTSTRAP_ENV]) {
    console.log(`Using the Kafka broker at ${process.env[BOOTSTRAP_ENV]} (${BOOTSTRAP_ENV})`);
    return;
  }
  const started = Date.now();
  try {
    broker = await startBroker({ onProgress: (message) => console.log(message) });
  } catch (err) {
    if (!(err instanceof KafkaHarnessError)) throw err;
    // One line that says what to do, rather than a stack trace from inside the test runner.
    console.error(`error: the tests need a local Kafka broker: ${err.message}`);
    process.exit(1);
  }
  process.env[BOOTSTRAP_ENV] = broker.bootstrap;
  console.log(
    `Kafka broker for tests at ${broker.bootstrap} (log ${broker.logFile}), ready in ${Date.now() - started} ms`,
  );
}

export async function globalTeardown(): Promise<void> {
  await broker?.stop();
  broker = undefined;
}

import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { ConfigError } from '../model/errors.ts';
import type { Logger } from '../observe/logger.ts';
import type { KafkaSinkConfig, SaslConfig, TlsConfig } from './sink-config.ts';
import type { SaslCredentials } from './wire/sasl.ts';

/**
 * The one place a `sink.kafka` section becomes a kafkajs client config, shared by the producer
 * and `test-connection`. Secret and PEM files are read here, once, at start; a file that cannot
 * be read or a contradictory setting is a ConfigError naming the key. Secrets are handed to
 * kafkajs and never put in a log field or an error message.
 */
export function kafkaClientConfig(config: KafkaSinkConfig, log: Logger): KafkaConfig {
  const client: KafkaConfig = {
    clientId: config.client_id,
    brokers: [...config.brokers],
    connectionTimeout: config.connection_timeout_ms,
    requestTimeout: config.request_timeout_ms,
    // kafkajs's logLevel.WARN (a type-only import: this module must not load kafkajs).
    logLevel: 2,
    logCreator: () => (entry) => {
      const { message, ...fields } = entry.log;
      // kafkajs logs its own retries as errors; they are ours to report, once, as a classified error.
      log.debug({ kafkajs: fields, namespace: entry.namespace }, message);
    },
    // kafkajs's own short retries (metadata refreshes, leader moves) within one send; the Sender
    // owns the longer backoff beyond them.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
  };
  if (config.tls?.enabled) client.ssl = tlsOptions(config.tls);
  if (config.sasl !== undefined) client.sasl = saslOptions(config.sasl);
  return client;
}

/**
 * TLS options and SASL credentials of a `sink.kafka` section, for the built-in client: the same
 * files read and the same ConfigErrors as kafkaClientConfig.
 */
export function kafkaSecurity(config: KafkaSinkConfig): {
  tls: ConnectionOptions | undefined;
  sasl: SaslCredentials | undefined;
} {
  return {
    tls: config.tls?.enabled ? tlsOptions(config.tls) : undefined,
    sasl: config.sasl === undefined ? undefined : saslCredentials(config.sasl),
  };
}

/** `SASL_SSL` / `SSL` / `SASL_PLAINTEXT` / `PLAINTEXT`, as a broker's listener map names it. */
export function securityProtocol(config: KafkaSinkConfig): string {
  const tls = config.tls?.enabled;
  if (config.sasl !== undefined) return tls ? 'SASL_SSL' : 'SASL_PLAINTEXT';
  return tls ? 'SSL' : 'PLAINTEXT';
}

function tlsOptions(tls: TlsConfig): ConnectionOptions {
  const out: ConnectionOptions = { rejectUnauthorized: tls.verify };
  if (tls.ca_file !== '') out.ca = readPem(tls.ca_file, 'sink.kafka.tls.ca_file');
  if ((tls.cert_file === '') !== (tls.key_file === '')) {
    throw new ConfigError('sink.kafka.tls: cert_file and key_file go together (mTLS): set both, or neither');
  }
  if (tls.cert_file !== '') {
    out.cert = readPem(tls.cert_file, 'sink.kafka.tls.cert_file');
    out.key = readPem(tls.key_file, 'sink.kafka.tls.key_file');
    const passphrase = secret(tls.key_password, tls.key_password_file, 'sink.kafka.tls.key_password');
    if (passphrase !== '') out.passphrase = passphrase;
  }
  if (tls.server_name !== '') out.servername = tls.server_name;
  return out;
}

function saslOptions(sasl: SaslConfig): SASLOptions {
  return saslCredentials(sasl);
}

function saslCredentials(sasl: SaslConfig): SaslCredentials {
  const password = secret(sasl.password, sasl.password_file, 'sink.kafka.sasl.password');
  if (password === '') {
    throw new ConfigError(
      `sink.kafka.sasl: no password for user ${sasl.username}: set password (e.g. \${KAFKA_PASSWORD}) or password_file`,
    );
  }
  return { mechanism: sasl.mechanism, username: sasl.username, password };
}

/** The inline value, else the file's content without its trailing newline; both set is ambiguous. */
function secret(inline: string, file: string, key: string): string {
  if (inline !== '' && file !== '') {
    throw new ConfigError(`${key} and ${key}_file are both set: keep one`);
  }
  if (file === '') return inline;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(
      `${key}_file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}: point it at a readable file`,
    );
  }
}

function readPem(file: string, key: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}: point it at a readable PEM file`,
    );
  }
  if (!text.includes('-----BEGIN ')) {
    throw new ConfigError(`${key} ${file}: not a PEM file (no -----BEGIN line): convert it to PEM`);
  }
  return text;
}

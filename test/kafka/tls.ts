/**
 * Throw-away TLS material for SSL / SASL_SSL / mTLS test listeners, made with the openssl CLI:
 * a CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, all PEM. Kafka
 * reads PEM key stores directly (ssl.keystore.type=PEM), so no JKS or keytool step is needed.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ServerProperties } from './broker.ts';
import { KafkaHarnessError } from './errors.ts';

const execFileP = promisify(execFile);

export interface TlsMaterial {
  dir: string;
  /** CA certificate (PEM): the clients' `ca`, and the broker's trust store for client certificates. */
  caCert: string;
  /** Key + certificate chain in one PEM file: the broker's key store. */
  serverKeystore: string;
  /** Client certificate and key (PEM), CN = `clientName`: for mTLS clients. */
  clientCert: string;
  clientKey: string;
  clientName: string;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd, timeout: 60_000 });
  } catch (err) {
    const e = err as { code?: string | number; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new KafkaHarnessError(
        'openssl not found (needed for TLS test listeners): install it (apt-get install openssl)',
      );
    }
    throw new KafkaHarnessError(
      `openssl ${args[0]} failed: ${(e.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}`,
    );
  }
}

async function signedCert(dir: string, name: string, subject: string, extensions: string): Promise<void> {
  await openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    ],
    dir,
  );
  await writeFile(path.join(dir, `${name}.ext`), `${extensions}\n`);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '30',
      '-sha256',
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
}

/** Writes a fresh CA, server and client certificate into `dir` (which must exist). */
export async function makeTlsMaterial(dir: string, clientName = 'logferry-client'): Promise<TlsMaterial> {
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '30',
      '-subj',
      '/CN=logferry-test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  await signedCert(
    dir,
    'server',
    '/CN=localhost',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth',
  );
  await signedCert(dir, 'client', `/CN=${clientName}`, 'extendedKeyUsage=clientAuth');
  const serverKeystore = path.join(dir, 'server-keystore.pem');
  const [key, crt, ca] = await Promise.all(
    ['server.key', 'server.crt', 'ca.pem'].map((f) => readFile(path.join(dir, f), 'utf8')),
  );
  await writeFile(serverKeystore, `${key.trim()}\n${crt.trim()}\n${ca.trim()}\n`);
  return {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    serverKeystore,
    clientCert: path.join(dir, 'client.crt'),
    clientKey: path.join(dir, 'client.key'),
    clientName,
  };
}

/**
 * Server properties that put TLS on the listener `listener` (its name as given to startBroker's
 * `listeners`). clientAuth 'required' makes it mTLS: clients must present a certificate from the CA.
 */
export function tlsListenerProperties(
  listener: string,
  tls: TlsMaterial,
  opts: { clientAuth?: 'required' | 'requested' | 'none' } = {},
): ServerProperties {
  const p = `listener.name.${listener.toLowerCase()}.`;
  return {
    [`${p}ssl.keystore.type`]: 'PEM',
    [`${p}ssl.keystore.location`]: tls.serverKeystore,
    [`${p}ssl.truststore.type`]: 'PEM',
    [`${p}ssl.truststore.location`]: tls.caCert,
    [`${p}ssl.client.auth`]: opts.clientAuth ?? 'none',
  };
}

/** Server properties that enable SCRAM (SHA-256 and SHA-512) on the SASL listener `listener`. */
export function scramListenerProperties(listener: string): ServerProperties {
  const p = `listener.name.${listener.toLowerCase()}.`;
  const jaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  return {
    [`${p}sasl.enabled.mechanisms`]: 'SCRAM-SHA-256,SCRAM-SHA-512',
    [`${p}scram-sha-256.sasl.jaas.config`]: jaas,
    [`${p}scram-sha-512.sasl.jaas.config`]: jaas,
  };
}

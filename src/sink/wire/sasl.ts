import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { API, brokerError, type RequestWriter, type ResponseReader, WireError } from './protocol.ts';

/**
 * SASL over the Kafka protocol (KIP-152): SaslHandshake v1 names the mechanism, then each token
 * goes in a SaslAuthenticate v1 request. PLAIN (RFC 4616) is one token; SCRAM-SHA-256/512
 * (RFC 5802/7677) is two, and the server's final message is checked against the password, so a
 * broker that does not know it cannot pass for one that does.
 *
 * The password is never put in an error message: a refusal names the user and mechanism only
 * (classify.ts adds the fix).
 */

export interface SaslCredentials {
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

const MECHANISM_NAMES = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const;

const pbkdf2Async = promisify(pbkdf2);

/** Where the exchange sends its requests: a connection, or its direct path while it renews. */
export interface SaslChannel {
  request(apiKey: number, version: number, write: (w: RequestWriter) => void): Promise<ResponseReader>;
}

/** Authenticates on `connection`; resolves with the session's lifetime in ms (0: no limit). */
export async function saslExchange(connection: SaslChannel, sasl: SaslCredentials): Promise<number> {
  const mechanism = MECHANISM_NAMES[sasl.mechanism];
  const handshake = await connection.request(API.saslHandshake, 1, (w) => w.string(mechanism));
  const code = handshake.int16();
  if (code !== 0) {
    const offered = handshake.array((r) => r.string()).join(', ');
    throw brokerError(code, `SASL handshake for ${mechanism}`, `the broker offers: ${offered || 'none'}`);
  }
  if (sasl.mechanism === 'plain') {
    return (await authenticate(connection, Buffer.from(`\0${sasl.username}\0${sasl.password}`))).lifetimeMs;
  }
  const digest = sasl.mechanism === 'scram-sha-256' ? 'sha256' : 'sha512';
  const scram = new ScramClient(sasl.username, sasl.password, digest);
  const serverFirst = await authenticate(connection, Buffer.from(scram.clientFirst()));
  const serverFinal = await authenticate(
    connection,
    Buffer.from(await scram.clientFinal(serverFirst.bytes.toString())),
  );
  scram.checkServerFinal(serverFinal.bytes.toString());
  return serverFinal.lifetimeMs;
}

async function authenticate(
  connection: SaslChannel,
  token: Buffer,
): Promise<{ bytes: Buffer; lifetimeMs: number }> {
  const r: ResponseReader = await connection.request(API.saslAuthenticate, 1, (w) => w.bytes(token));
  const code = r.int16();
  const message = r.string();
  const bytes = r.bytes() ?? Buffer.alloc(0);
  const lifetimeMs = Number(r.int64());
  if (code !== 0) throw brokerError(code, 'SASL authentication', message);
  return { bytes, lifetimeMs };
}

function saslName(name: string): string {
  return name.replaceAll('=', '=3D').replaceAll(',', '=2C');
}

function authFailure(detail: string): WireError {
  return new WireError('KafkaJSSASLAuthenticationError', `SCRAM: ${detail}`, 'SASL_AUTHENTICATION_FAILED');
}

/** The client side of one SCRAM exchange. */
export class ScramClient {
  readonly #user: string;
  readonly #password: string;
  readonly #digest: 'sha256' | 'sha512';
  readonly #nonce: string;
  #clientFirstBare = '';
  #serverSignature: Buffer | undefined;

  constructor(
    user: string,
    password: string,
    digest: 'sha256' | 'sha512',
    nonce = randomBytes(24).toString('base64'),
  ) {
    this.#user = user;
    this.#password = password;
    this.#digest = digest;
    this.#nonce = nonce;
  }

  clientFirst(): string {
    this.#clientFirstBare = `n=${saslName(this.#user)},r=${this.#nonce}`;
    return `n,,${this.#clientFirstBare}`;
  }

  async clientFinal(serverFirst: string): Promise<string> {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (nonce === undefined || !nonce.startsWith(this.#nonce) || salt === undefined || !(iterations > 0)) {
      throw authFailure('the server-first message is malformed or does not extend our nonce');
    }
    const keyLength = this.#digest === 'sha256' ? 32 : 64;
    const salted = await pbkdf2Async(
      this.#password,
      Buffer.from(salt, 'base64'),
      iterations,
      keyLength,
      this.#digest,
    );
    const clientKey = this.#hmac(salted, 'Client Key');
    const storedKey = createHash(this.#digest).update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = this.#hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] as number) ^ (signature[i] as number);
    this.#serverSignature = this.#hmac(this.#hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  checkServerFinal(serverFinal: string): void {
    const attrs = parseAttributes(serverFinal);
    const error = attrs.get('e');
    if (error !== undefined) throw authFailure(`the server refused: ${error}`);
    const v = attrs.get('v');
    const expected = this.#serverSignature;
    const got = v === undefined ? undefined : Buffer.from(v, 'base64');
    if (
      expected === undefined ||
      got === undefined ||
      got.length !== expected.length ||
      !timingSafeEqual(got, expected)
    ) {
      throw authFailure("the server's signature does not match: it does not know this user's password");
    }
  }

  #hmac(key: Buffer, data: string): Buffer {
    return createHmac(this.#digest, key).update(data).digest();
  }
}

function parseAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

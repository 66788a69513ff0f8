import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { after, test } from 'node:test';
import { BrokerConnection, type ConnectionSettings } from '../../../../src/sink/wire/connection.ts';
import { WireError } from '../../../../src/sink/wire/protocol.ts';
import { type SaslCredentials, ScramClient } from '../../../../src/sink/wire/sasl.ts';
import type { FakeBroker, Received } from './fake-broker.ts';
import { bytes, int16, int32, reply, settingsFor, startFakeBroker, str, waitFor } from './fake-broker.ts';

// --- SCRAM, against RFC 7677's test vector -------------------------------------------------------

const RFC_NONCE = 'rOprNGfwEbeRWgbNEkqO';
const RFC_SERVER_FIRST =
  'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const RFC_CLIENT_FINAL =
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const RFC_SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

const isScramFailure = (pattern: RegExp) => (e: unknown) =>
  e instanceof WireError &&
  e.name === 'KafkaJSSASLAuthenticationError' &&
  e.type === 'SASL_AUTHENTICATION_FAILED' &&
  pattern.test(e.message);

async function rfcClient(): Promise<ScramClient> {
  const c = new ScramClient('user', 'pencil', 'sha256', RFC_NONCE);
  assert.equal(c.clientFirst(), `n,,n=user,r=${RFC_NONCE}`);
  assert.equal(await c.clientFinal(RFC_SERVER_FIRST), RFC_CLIENT_FINAL);
  return c;
}

test('SCRAM-SHA-256: the RFC 7677 exchange, client-first to server-final', async () => {
  const c = await rfcClient();
  assert.doesNotThrow(() => c.checkServerFinal(RFC_SERVER_FINAL));
});

test('SCRAM: a server signature that does not match is refused', async () => {
  const c = await rfcClient();
  const wrong = `v=${Buffer.alloc(32, 7).toString('base64')}`;
  assert.throws(() => c.checkServerFinal(wrong), isScramFailure(/signature does not match/));
  const short = `v=${Buffer.alloc(8, 7).toString('base64')}`;
  assert.throws(() => c.checkServerFinal(short), isScramFailure(/signature does not match/));
  assert.throws(() => c.checkServerFinal('x=1'), isScramFailure(/signature does not match/), 'no v at all');
});

test("SCRAM: the server's e= is refused, naming the server's reason", async () => {
  const c = await rfcClient();
  assert.throws(
    () => c.checkServerFinal('e=invalid-proof'),
    isScramFailure(/the server refused: invalid-proof/),
  );
});

test('SCRAM: a server-final before client-final is refused (no signature to compare)', () => {
  const c = new ScramClient('user', 'pencil', 'sha256', RFC_NONCE);
  c.clientFirst();
  assert.throws(() => c.checkServerFinal(RFC_SERVER_FINAL), isScramFailure(/signature does not match/));
});

test('SCRAM: a server nonce that does not extend ours, or a malformed server-first, is refused', async () => {
  const c = new ScramClient('user', 'pencil', 'sha256', RFC_NONCE);
  c.clientFirst();
  await assert.rejects(
    c.clientFinal('r=someoneElsesNonce123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'),
    isScramFailure(/does not extend our nonce/),
  );
  await assert.rejects(c.clientFinal(`r=${RFC_NONCE}x,i=4096`), isScramFailure(/malformed/), 'no salt');
  await assert.rejects(
    c.clientFinal(`r=${RFC_NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`),
    isScramFailure(/malformed/),
    'no iterations',
  );
});

test("SCRAM: ',' and '=' in the user name are escaped as =2C and =3D", () => {
  const c = new ScramClient('a,b=c,', 'pw', 'sha512', 'N0NCE');
  assert.equal(c.clientFirst(), 'n,,n=a=2Cb=3Dc=2C,r=N0NCE');
});

test('SCRAM: a random nonce by default, different per client', () => {
  const a = new ScramClient('u', 'p', 'sha256').clientFirst();
  const b = new ScramClient('u', 'p', 'sha256').clientFirst();
  assert.match(a, /^n,,n=u,r=[A-Za-z0-9+/=]{16,}$/);
  assert.notEqual(a, b);
});

// --- the exchange over a connection, against a fake broker ---------------------------------------

/** Answers one request: the response body (after the correlation id). */
type Answer = (req: Received) => Buffer;

const servers: FakeBroker[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** A fake broker that answers every request with what `answer` makes of it. */
async function fakeBroker(answer: Answer): Promise<FakeBroker> {
  const broker = await startFakeBroker({ onRequest: (req) => reply(req, answer(req)) });
  servers.push(broker);
  return broker;
}

/** SaslHandshake v1 answer: error code, the mechanisms the broker offers. */
const handshakeAnswer = (code: number, mechanisms: string[]) =>
  Buffer.concat([int16(code), int32(mechanisms.length), ...mechanisms.map(str)]);

/** SaslAuthenticate v1 answer: error code, message, auth bytes, session lifetime. */
const authenticateAnswer = (code: number, message: string | null, auth = Buffer.alloc(0), lifetimeMs = 0) => {
  const lifetime = Buffer.alloc(8);
  lifetime.writeBigInt64BE(BigInt(lifetimeMs));
  return Buffer.concat([int16(code), str(message), bytes(auth), lifetime]);
};

/** The string of a SaslHandshake request body. */
const mechanismOf = (req: Received) => req.body.toString('utf8', 2, 2 + req.body.readInt16BE(0));
/** The auth bytes of a SaslAuthenticate request body. */
const tokenOf = (req: Received) => req.body.subarray(4, 4 + req.body.readInt32BE(0));

const settings = (sasl: SaslCredentials): ConnectionSettings => settingsFor('logferry-test', { sasl });

/** Opens a connection to the fake broker on `port`, authenticating with `sasl`. */
const connect = (port: number, sasl: SaslCredentials) =>
  BrokerConnection.open('127.0.0.1', port, settings(sasl));

test('PLAIN: SaslHandshake v1 naming PLAIN, then "\\0user\\0pass" in SaslAuthenticate v1', {
  timeout: 5000,
}, async () => {
  const broker = await fakeBroker((req) =>
    req.apiKey === 17 ? handshakeAnswer(0, ['PLAIN', 'SCRAM-SHA-512']) : authenticateAnswer(0, null),
  );
  const c = await connect(broker.port, { mechanism: 'plain', username: 'user', password: 'pass' });
  try {
    assert.equal(c.closed, false);
    assert.deepEqual(
      broker.received.map((r) => [r.apiKey, r.version, r.clientId]),
      [
        [17, 1, 'logferry-test'],
        [36, 1, 'logferry-test'],
      ],
    );
    assert.equal(mechanismOf(broker.received[0] as Received), 'PLAIN');
    assert.deepEqual(tokenOf(broker.received[1] as Received), Buffer.from('\0user\0pass'));
    assert.equal(
      (broker.received[1] as Received).correlationId,
      (broker.received[0] as Received).correlationId + 1,
    );
  } finally {
    c.close();
  }
});

test('a handshake refused with 33 (the broker offers SCRAM-SHA-512 only): UNSUPPORTED_SASL_MECHANISM', {
  timeout: 5000,
}, async () => {
  const broker = await fakeBroker(() => handshakeAnswer(33, ['SCRAM-SHA-512']));
  await assert.rejects(
    connect(broker.port, { mechanism: 'plain', username: 'user', password: 'pass' }),
    (e: unknown) =>
      e instanceof WireError &&
      e.type === 'UNSUPPORTED_SASL_MECHANISM' &&
      /SASL handshake for PLAIN/.test(e.message) &&
      /the broker offers: SCRAM-SHA-512/.test(e.message),
  );
  assert.equal(broker.received.length, 1, 'no SaslAuthenticate after a refused handshake');
  await waitFor(() => broker.closedSockets() === 1);
});

test('an authentication refused with 58: SASL_AUTHENTICATION_FAILED, the password in no message', {
  timeout: 5000,
}, async () => {
  const password = 'hunter2-very-secret';
  const broker = await fakeBroker((req) =>
    req.apiKey === 17
      ? handshakeAnswer(0, ['PLAIN'])
      : authenticateAnswer(58, 'Authentication failed: Invalid username or password'),
  );
  let caught: unknown;
  await assert.rejects(
    connect(broker.port, { mechanism: 'plain', username: 'user', password }),
    (e: unknown) => {
      caught = e;
      return (
        e instanceof WireError &&
        e.type === 'SASL_AUTHENTICATION_FAILED' &&
        /Invalid username or password/.test(e.message)
      );
    },
  );
  const err = caught as WireError;
  assert.ok(!err.message.includes(password));
  assert.ok(!String(err.stack).includes(password));
  assert.ok(!JSON.stringify(err).includes(password));
  await waitFor(() => broker.closedSockets() === 1);
});

/** The server side of SCRAM (RFC 5802), for a user whose password the broker knows. */
function scramBroker(knownPassword: string, digest: 'sha256' | 'sha512', mechanism: string): Answer {
  const salt = Buffer.from('logferry-salt');
  const iterations = 4096;
  const keyLength = digest === 'sha256' ? 32 : 64;
  const salted = pbkdf2Sync(knownPassword, salt, iterations, keyLength, digest);
  const hmac = (key: Buffer, data: string) => createHmac(digest, key).update(data).digest();
  const storedKey = createHash(digest).update(hmac(salted, 'Client Key')).digest();
  let clientFirstBare = '';
  let serverFirst = '';
  return (req) => {
    if (req.apiKey === 17) return handshakeAnswer(mechanismOf(req) === mechanism ? 0 : 33, [mechanism]);
    const token = tokenOf(req).toString();
    if (serverFirst === '') {
      clientFirstBare = token.slice(3); // after the gs2 header "n,,"
      const clientNonce = /r=([^,]+)/.exec(clientFirstBare)?.[1] ?? '';
      serverFirst = `r=${clientNonce}srvNonce,s=${salt.toString('base64')},i=${iterations}`;
      return authenticateAnswer(0, null, Buffer.from(serverFirst));
    }
    const withoutProof = token.slice(0, token.indexOf(',p='));
    const proof = Buffer.from(token.slice(token.indexOf(',p=') + 3), 'base64');
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = (proof[i] as number) ^ (signature[i] as number);
    const candidate = createHash(digest).update(clientKey).digest();
    if (candidate.length !== storedKey.length || !timingSafeEqual(candidate, storedKey)) {
      return authenticateAnswer(
        58,
        `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`,
      );
    }
    const v = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
    return authenticateAnswer(0, null, Buffer.from(`v=${v}`));
  };
}

for (const [mechanism, digest] of [
  ['scram-sha-256', 'sha256'],
  ['scram-sha-512', 'sha512'],
] as const) {
  const name = mechanism.toUpperCase();
  test(`${name}: two SaslAuthenticate rounds against a broker that checks the proof`, {
    timeout: 5000,
  }, async () => {
    const broker = await fakeBroker(scramBroker('s3cret', digest, name));
    const c = await connect(broker.port, { mechanism, username: 'alice', password: 's3cret' });
    try {
      assert.equal(c.closed, false);
      assert.deepEqual(
        broker.received.map((r) => r.apiKey),
        [17, 36, 36],
      );
      assert.equal(mechanismOf(broker.received[0] as Received), name);
      assert.match(tokenOf(broker.received[1] as Received).toString(), /^n,,n=alice,r=/);
    } finally {
      c.close();
    }
  });

  test(`${name}: a wrong password is refused by the broker with 58`, { timeout: 5000 }, async () => {
    const broker = await fakeBroker(scramBroker('the-real-one', digest, name));
    await assert.rejects(
      connect(broker.port, { mechanism, username: 'alice', password: 'wrong-guess' }),
      (e: unknown) =>
        e instanceof WireError &&
        e.type === 'SASL_AUTHENTICATION_FAILED' &&
        !e.message.includes('wrong-guess'),
    );
  });
}

test('SCRAM: a broker that does not know the password cannot pass for one that does', {
  timeout: 5000,
}, async () => {
  // Checks no proof and answers success with a signature made from another password.
  const impostor = scramBroker('impostor-password', 'sha512', 'SCRAM-SHA-512');
  const broker = await fakeBroker((req) => {
    const answer = impostor(req);
    if (req.apiKey === 36 && answer.readInt16BE(0) === 58) {
      return authenticateAnswer(0, null, Buffer.from(`v=${Buffer.alloc(64, 1).toString('base64')}`));
    }
    return answer;
  });
  await assert.rejects(
    connect(broker.port, { mechanism: 'scram-sha-512', username: 'alice', password: 'mine' }),
    (e: unknown) =>
      e instanceof WireError &&
      e.name === 'KafkaJSSASLAuthenticationError' &&
      /signature does not match/.test(e.message),
  );
  await waitFor(() => broker.closedSockets() === 1);
});

test('a session with a lifetime is renewed on the same connection before it lapses, after the requests in flight, and the requests that waited go out in order', {
  timeout: 5000,
}, async () => {
  // Sessions of 300 ms; other requests (api key 99) are answered 30 ms late, with their first byte.
  let authentications = 0;
  let inFlight = 0;
  const log: string[] = [];
  const broker = await startFakeBroker({
    onRequest: (req) => {
      if (req.apiKey === 17) {
        log.push(`handshake with ${inFlight} in flight`);
        reply(req, handshakeAnswer(0, ['PLAIN']));
      } else if (req.apiKey === 36) {
        authentications++;
        reply(req, authenticateAnswer(0, null, Buffer.alloc(0), 300));
      } else {
        inFlight++;
        log.push(`request ${req.body[0]}`);
        setTimeout(() => {
          inFlight--;
          reply(req, req.body.subarray(0, 1));
        }, 30);
      }
    },
  });
  servers.push(broker);
  const c = await connect(broker.port, { mechanism: 'plain', username: 'user', password: 'pass' });
  try {
    const answers: number[] = [];
    for (let i = 0; i < 12; i++) {
      const sent = c.request(99, 0, (w) => w.int8(i)).then((r) => answers.push(r.int8()));
      if (i % 3 === 2) await sent;
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    await waitFor(() => answers.length === 12);
    assert.deepEqual(answers, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'every request answered, in order');
    assert.equal(broker.connections(), 1, 'renewed on the same connection');
    assert.ok(authentications >= 2, `renewed (${authentications} authentications in ~600 ms)`);
    for (const entry of log.filter((l) => l.startsWith('handshake')))
      assert.equal(entry, 'handshake with 0 in flight', 'a renewal waits for the answers in flight');
    assert.deepEqual(
      log.filter((l) => l.startsWith('request')),
      Array.from({ length: 12 }, (_, i) => `request ${i}`),
      'the requests reached the broker in order',
    );
    assert.equal(c.closed, false);
  } finally {
    c.close();
  }
});

test('a renewal the broker refuses fails the connection with its error', { timeout: 5000 }, async () => {
  let authentications = 0;
  const broker = await fakeBroker((req) => {
    if (req.apiKey === 17) return handshakeAnswer(0, ['PLAIN']);
    if (req.apiKey === 36) {
      authentications++;
      return authentications === 1
        ? authenticateAnswer(0, null, Buffer.alloc(0), 100)
        : authenticateAnswer(58, 'credentials revoked');
    }
    return Buffer.alloc(1);
  });
  const c = await connect(broker.port, { mechanism: 'plain', username: 'user', password: 'pass' });
  await c.request(99, 0, () => undefined);
  await new Promise((resolve) => setTimeout(resolve, 150));
  await assert.rejects(
    c.request(99, 0, () => undefined),
    (e: unknown) =>
      e instanceof WireError && e.type === 'SASL_AUTHENTICATION_FAILED' && !/pass\b/.test(e.message),
  );
  assert.equal(c.closed, true);
});

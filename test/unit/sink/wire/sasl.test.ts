import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { after, test } from 'node:test';
import { BrokerConnection, type ConnectionSettings } from '../../../../src/sink/wire/connection.ts';
import { WireError } from '../../../../src/sink/wire/protocol.ts';
import { type SaslCredentials, ScramClient } from '../../../../src/sink/wire/sasl.ts';

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

interface SaslRequest {
  apiKey: number;
  version: number;
  correlationId: number;
  clientId: string;
  body: Buffer;
}

/** Answers one request: the response body (after the correlation id). */
type Answer = (req: SaslRequest) => Buffer;

interface FakeBroker {
  port: number;
  requests: SaslRequest[];
  /** Sockets the broker saw closed. */
  closedSockets: () => number;
  close: () => Promise<void>;
}

const servers: FakeBroker[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function fakeBroker(answer: Answer): Promise<FakeBroker> {
  const requests: SaslRequest[] = [];
  const sockets = new Set<net.Socket>();
  let closed = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      closed++;
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    let held = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      held = Buffer.concat([held, data]);
      while (held.length >= 4 && held.length >= 4 + held.readInt32BE(0)) {
        const frame = held.subarray(4, 4 + held.readInt32BE(0));
        held = held.subarray(4 + frame.length);
        const clientIdLength = frame.readInt16BE(8);
        const req: SaslRequest = {
          apiKey: frame.readInt16BE(0),
          version: frame.readInt16BE(2),
          correlationId: frame.readInt32BE(4),
          clientId: frame.toString('utf8', 10, 10 + clientIdLength),
          body: frame.subarray(10 + clientIdLength),
        };
        requests.push(req);
        const body = answer(req);
        const head = Buffer.alloc(8);
        head.writeInt32BE(4 + body.length, 0);
        head.writeInt32BE(req.correlationId, 4);
        socket.write(Buffer.concat([head, body]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const broker: FakeBroker = {
    port: (server.address() as net.AddressInfo).port,
    requests,
    closedSockets: () => closed,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  servers.push(broker);
  return broker;
}

const int16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const str = (s: string | null) =>
  s === null ? int16(-1) : Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]);
const bytes = (b: Buffer) => Buffer.concat([int32(b.length), b]);

/** SaslHandshake v1 answer: error code, the mechanisms the broker offers. */
const handshakeAnswer = (code: number, mechanisms: string[]) =>
  Buffer.concat([int16(code), int32(mechanisms.length), ...mechanisms.map(str)]);

/** SaslAuthenticate v1 answer: error code, message, auth bytes, session lifetime. */
const authenticateAnswer = (code: number, message: string | null, auth = Buffer.alloc(0)) =>
  Buffer.concat([int16(code), str(message), bytes(auth), Buffer.alloc(8)]);

/** The string of a SaslHandshake request body. */
const mechanismOf = (req: SaslRequest) => req.body.toString('utf8', 2, 2 + req.body.readInt16BE(0));
/** The auth bytes of a SaslAuthenticate request body. */
const tokenOf = (req: SaslRequest) => req.body.subarray(4, 4 + req.body.readInt32BE(0));

function settings(sasl: SaslCredentials): ConnectionSettings {
  return {
    clientId: 'logferry-test',
    connectTimeoutMs: 2000,
    requestTimeoutMs: 2000,
    tls: undefined,
    sni: false,
    sasl,
  };
}

/** Waits for `cond`, at most `ms`. */
async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('PLAIN: SaslHandshake v1 naming PLAIN, then "\\0user\\0pass" in SaslAuthenticate v1', {
  timeout: 5000,
}, async () => {
  const broker = await fakeBroker((req) =>
    req.apiKey === 17 ? handshakeAnswer(0, ['PLAIN', 'SCRAM-SHA-512']) : authenticateAnswer(0, null),
  );
  const c = await BrokerConnection.open(
    '127.0.0.1',
    broker.port,
    settings({ mechanism: 'plain', username: 'user', password: 'pass' }),
  );
  try {
    assert.equal(c.closed, false);
    assert.deepEqual(
      broker.requests.map((r) => [r.apiKey, r.version, r.clientId]),
      [
        [17, 1, 'logferry-test'],
        [36, 1, 'logferry-test'],
      ],
    );
    assert.equal(mechanismOf(broker.requests[0] as SaslRequest), 'PLAIN');
    assert.deepEqual(tokenOf(broker.requests[1] as SaslRequest), Buffer.from('\0user\0pass'));
    assert.equal(
      (broker.requests[1] as SaslRequest).correlationId,
      (broker.requests[0] as SaslRequest).correlationId + 1,
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
    BrokerConnection.open(
      '127.0.0.1',
      broker.port,
      settings({ mechanism: 'plain', username: 'user', password: 'pass' }),
    ),
    (e: unknown) =>
      e instanceof WireError &&
      e.type === 'UNSUPPORTED_SASL_MECHANISM' &&
      /SASL handshake for PLAIN/.test(e.message) &&
      /the broker offers: SCRAM-SHA-512/.test(e.message),
  );
  assert.equal(broker.requests.length, 1, 'no SaslAuthenticate after a refused handshake');
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
    BrokerConnection.open(
      '127.0.0.1',
      broker.port,
      settings({ mechanism: 'plain', username: 'user', password }),
    ),
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
    const c = await BrokerConnection.open(
      '127.0.0.1',
      broker.port,
      settings({ mechanism, username: 'alice', password: 's3cret' }),
    );
    try {
      assert.equal(c.closed, false);
      assert.deepEqual(
        broker.requests.map((r) => r.apiKey),
        [17, 36, 36],
      );
      assert.equal(mechanismOf(broker.requests[0] as SaslRequest), name);
      assert.match(tokenOf(broker.requests[1] as SaslRequest).toString(), /^n,,n=alice,r=/);
    } finally {
      c.close();
    }
  });

  test(`${name}: a wrong password is refused by the broker with 58`, { timeout: 5000 }, async () => {
    const broker = await fakeBroker(scramBroker('the-real-one', digest, name));
    await assert.rejects(
      BrokerConnection.open(
        '127.0.0.1',
        broker.port,
        settings({ mechanism, username: 'alice', password: 'wrong-guess' }),
      ),
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
    BrokerConnection.open(
      '127.0.0.1',
      broker.port,
      settings({ mechanism: 'scram-sha-512', username: 'alice', password: 'mine' }),
    ),
    (e: unknown) =>
      e instanceof WireError &&
      e.name === 'KafkaJSSASLAuthenticationError' &&
      /signature does not match/.test(e.message),
  );
  await waitFor(() => broker.closedSockets() === 1);
});

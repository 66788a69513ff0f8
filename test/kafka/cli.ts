/**
 * `npm run kafka [-- --port 9092] [--log-dir DIR] [--cluster]`: a real Kafka broker by hand, until Ctrl-C.
 *
 * Without --port it takes 9092 when that is free (the address in the README's example config),
 * otherwise any free port. Without --log-dir the data lives in a temp dir that goes on Ctrl-C.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { type KafkaCluster, type KafkaNode, startBroker, startCluster } from './broker.ts';
import { KafkaHarnessError } from './errors.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'log-dir': { type: 'string' },
    cluster: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`Usage: npm run kafka [-- --port N] [--log-dir DIR] [--cluster]
  --port N        PLAINTEXT port (default 9092 if free, else a free port)
  --log-dir DIR   keep config, data and broker.log in DIR (default: a temp dir removed on exit)
  --cluster       three nodes in one KRaft quorum instead of one broker`);
  process.exit(0);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

let stopping = false;
let running: { stop(): Promise<void> } | undefined;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping Kafka...`);
  await running?.stop();
  console.log('Kafka stopped');
  process.exit(0);
}
// Installed before the start so that a Ctrl-C during start-up still stops cleanly.
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

try {
  const onProgress = (message: string) => console.log(message);
  if (values.cluster) {
    const cluster: KafkaCluster = await startCluster(3, { baseDir: values['log-dir'], onProgress });
    running = cluster;
    console.log(`Kafka cluster ready at ${cluster.bootstrap} (dir ${cluster.baseDir})`);
  } else {
    const port =
      values.port !== undefined ? Number(values.port) : (await portIsFree(9092)) ? 9092 : undefined;
    const broker: KafkaNode = await startBroker({ port, logDir: values['log-dir'], onProgress });
    running = broker;
    console.log(`Kafka broker ready at ${broker.bootstrap} (log dir ${broker.logDir})`);
  }
  console.log('Press Ctrl-C to stop.');
  // The broker child is unref'd; this keeps the process (and so the broker) alive until a signal.
  setInterval(() => {}, 1 << 30);
} catch (err) {
  if (err instanceof KafkaHarnessError) {
    console.error(`error: ${err.message}`);
    process.exit(1);
  }
  throw err;
}

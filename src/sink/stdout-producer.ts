import type { Writable } from 'node:stream';
import type { Batch, ProducerPort } from './producer-port.ts';

/**
 * `--dry-run`: writes each record's value as one NDJSON line. A batch counts as delivered once the
 * stream accepted its bytes (the write callback), which is what moves checkpoints in a dry run.
 */
export class StdoutProducer implements ProducerPort {
  readonly #out: Writable;

  constructor(out: Writable = process.stdout) {
    this.#out = out;
  }

  async connect(): Promise<void> {}

  send(batch: Batch): Promise<void> {
    const { records } = batch;
    let text = '';
    for (let i = 0; i < records.length; i++) text += `${records[i].value}\n`;
    return new Promise((resolve, reject) => {
      this.#out.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  async disconnect(): Promise<void> {}
}

import { type Static, Type } from '@sinclair/typebox';

/**
 * The sink's `compression` setting. The default is chosen by measurement (bench/codecs.ts, numbers in
 * docs/dependency-notes-codecs.md): on batches of logferry's JSON records zstd (level 1) makes batches 43%
 * smaller than lz4 at 60-85% of its speed, as small as gzip at about 5 times its speed, and comes from
 * Node itself.
 */
export const CompressionSchema = Type.Union(
  [
    Type.Literal('none'),
    Type.Literal('gzip'),
    Type.Literal('snappy'),
    Type.Literal('lz4'),
    Type.Literal('zstd'),
  ],
  {
    default: 'zstd',
    description:
      'Codec for record batches: none, gzip, snappy, lz4 or zstd. zstd (default) compresses JSON logs best at ' +
      'high speed and needs brokers of Kafka 2.1 or later; lz4 is the fastest; gzip the slowest.',
  },
);

export type CompressionName = Static<typeof CompressionSchema>;

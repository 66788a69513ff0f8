import { type Static, Type } from '@sinclair/typebox';

/** `host:port`, `[ipv6]:port`, or `:port` (all interfaces). */
export const LISTEN_PATTERN = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9_.-]*):[0-9]{1,5}$';

/** The top-level `metrics` section: where the Prometheus, health and status endpoints listen. */
export const MetricsSchema = Type.Object(
  {
    enabled: Type.Boolean({
      default: true,
      description: 'Serve /metrics (Prometheus text format), /healthz, /readyz and /status over HTTP.',
    }),
    listen: Type.String({
      pattern: LISTEN_PATTERN,
      default: '127.0.0.1:9464',
      description:
        'Address of the HTTP endpoint as host:port ([::1]:port for IPv6, :port for every interface). ' +
        'Loopback by default; a DaemonSet scraped from outside the pod sets 0.0.0.0:9464.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description: 'Metrics and health endpoints (Prometheus scrape, Kubernetes probes, logferry top).',
  },
);

export type MetricsConfig = Static<typeof MetricsSchema>;

import { type Static, Type } from '@sinclair/typebox';

const StaticFields = (description: string) =>
  Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
    description,
    default: {},
  });

/** Per-source enrichment settings; the config owner spreads these properties into a source's schema. */
export const EnrichSourceFields = {
  service: Type.String({
    description:
      'service.name for every record of this source. Empty: the parsed field service_field, else the ' +
      'service_from_path capture, else the Kubernetes container name, else the source name.',
    default: '',
  }),
  service_from_path: Type.String({
    description:
      'Regex matched against the file path once per file; its named group "service" gives service.name, ' +
      'and every named group N is available to key/topic templates as {path.N}. Example: "/var/log/(?<service>[^/]+)/".',
    default: '',
  }),
  service_field: Type.String({
    description:
      'Parsed field (dotted path, e.g. "app.name") whose string value becomes service.name when present.',
    default: '',
  }),
  fields: StaticFields(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the description shows the ${ENV} syntax
    'Static fields added under "labels" to every record of this source (override global fields); ${ENV} and ${ENV:-default} are expanded at startup.',
  ),
  key: Type.String({
    description:
      'Message key: host | service | none (round-robin) | a field path (e.g. kubernetes.namespace, fields.user) | ' +
      'a template "{service.name}/{kubernetes.namespace}". A missing field makes the key the host name. Empty: the global key.',
    default: '',
  }),
  topic: Type.String({
    description:
      'Topic name or template such as "logs-{service.name}", sanitised to [a-zA-Z0-9._-] (max 249). A missing ' +
      'field or an empty result sends to the fallback topic. Empty: sink.kafka.topic.',
    default: '',
  }),
  kubernetes: Type.Boolean({
    description:
      'Add kubernetes.* and container.id from kubelet log paths (/var/log/pods/..., /var/log/containers/...) when the path matches.',
    default: true,
  }),
};

export const EnrichSourceSchema = Type.Object(
  { name: Type.String({ description: 'Source name.', default: '' }), ...EnrichSourceFields },
  { additionalProperties: false },
);

/** The global enrichment section. */
export const EnrichSettingsSchema = Type.Object(
  {
    host_name: Type.String({
      description: 'host.name override. Empty: the NODE_NAME environment variable, else the OS host name.',
      default: '',
    }),
    fields: StaticFields(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the description shows the ${ENV} syntax
      'Static fields added under "labels" to every record; ${ENV} and ${ENV:-default} are expanded at startup.',
    ),
    key: Type.String({
      description: 'Default message key for sources that set none (same forms as a source key).',
      default: 'host',
    }),
    fallback_topic: Type.String({
      description: 'Topic for records whose topic template has a missing field or sanitises to nothing.',
      default: 'logferry-unrouted',
    }),
  },
  { additionalProperties: false, description: 'Enrichment: host name, global static fields, default key.' },
);

export type EnrichSettingsConfig = Static<typeof EnrichSettingsSchema>;

/** What createEnricher takes globally: the section plus the default topic (sink.kafka.topic). */
export type EnrichSettings = Partial<EnrichSettingsConfig> & { default_topic: string };

/** What createEnricher takes per source (missing settings take their defaults). */
export type EnrichSource = { name: string } & Partial<Omit<Static<typeof EnrichSourceSchema>, 'name'>>;

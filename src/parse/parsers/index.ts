import type { ParserName, ParseSource } from '../parse-config.ts';
import type { FieldRoles, Parser } from '../parser.ts';
import { AccessLogParser } from './access.ts';
import { JsonParser } from './json.ts';
import { LogfmtParser } from './logfmt.ts';
import { RegexParser } from './regex.ts';
import { SyslogParser } from './syslog.ts';

export type ContentParserName = Exclude<ParserName, 'cri' | 'docker' | 'none'>;

export function createParser(name: ContentParserName, source: ParseSource): Parser {
  const roles: FieldRoles = {
    messageField: source.message_field ?? '',
    timestampField: source.timestamp_field ?? '',
    levelField: source.level_field ?? '',
  };
  switch (name) {
    case 'json':
      return new JsonParser(roles);
    case 'logfmt':
      return new LogfmtParser(roles);
    case 'regex':
      return new RegexParser(source.regex ?? '', roles, source.name);
    case 'syslog':
      return new SyslogParser();
    case 'nginx':
    case 'apache':
      return new AccessLogParser(name);
  }
}

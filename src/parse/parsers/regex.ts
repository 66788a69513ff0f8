import { ParseConfigError } from '../../model/errors.ts';
import type { ParsedEvent } from '../../model/record.ts';
import type { FieldRoles, Parser } from '../parser.ts';
import { applyFields, newFields, setField } from './fields.ts';

/** Named groups become fields; `message`, `time`/`timestamp`, `level` take their usual roles. */
export class RegexParser implements Parser {
  readonly name = 'regex';
  private readonly re: RegExp;
  private readonly roles: FieldRoles;

  constructor(pattern: string, roles: FieldRoles, source: string) {
    if (pattern === '') {
      throw new ParseConfigError(`source ${source}: parser regex needs a "regex" pattern with named groups`);
    }
    try {
      this.re = new RegExp(pattern);
    } catch (e) {
      throw new ParseConfigError(
        `source ${source}: regex is not a valid regular expression (${(e as Error).message}): fix the pattern`,
      );
    }
    if (!/\(\?<[A-Za-z_$][\w$]*>/.test(pattern)) {
      throw new ParseConfigError(
        `source ${source}: regex has no named group: name groups like (?<status>\\d+)`,
      );
    }
    this.roles = roles;
  }

  parse(ev: ParsedEvent): boolean {
    const m = this.re.exec(ev.message);
    if (m === null || m.groups === undefined) return false;
    const fields = newFields();
    const g = m.groups;
    for (const k in g) {
      const v = g[k];
      if (v !== undefined) setField(fields, k, v);
    }
    applyFields(ev, fields, this.roles);
    return true;
  }
}

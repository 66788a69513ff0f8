import type { ParsedEvent } from '../../model/record.ts';
import type { FieldRoles, Parser } from '../parser.ts';
import { applyFields, type Fields } from './fields.ts';
import { objectTextWithout } from './json-text.ts';

/** A JSON object per event; anything else (arrays, scalars, broken JSON) is a parse failure. */
export class JsonParser implements Parser {
  readonly name = 'json';
  private readonly roles: FieldRoles;

  constructor(roles: FieldRoles) {
    this.roles = roles;
  }

  parse(ev: ParsedEvent): boolean {
    const text = ev.message;
    // Cheap rejection first: exceptions are expensive and non-JSON lines may be frequent.
    let i = 0;
    while (i < text.length && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
    if (text.charCodeAt(i) !== 123 /* { */) return false;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return false;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return false;
    const moved = applyFields(ev, obj as Fields, this.roles);
    // The first parser's fields are the object itself: its encoding is the line minus the message.
    if (ev.fields === obj) ev.fieldsJson = objectTextWithout(text, i, moved);
    return true;
  }
}

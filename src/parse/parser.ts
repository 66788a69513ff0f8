import type { ParsedEvent } from '../model/record.ts';

/**
 * A content parser: reads `ev.message` (the whole, possibly multi-line event) and, on success, sets
 * `ev.fields`, and where it finds them `ev.message`, `ev.timestamp` and `ev.level`. It returns false
 * when the text is not in its format, leaving `ev.message` untouched. It never throws.
 *
 * Parsers are built once per source (regexes compiled then) and called once per event.
 */
export interface Parser {
  readonly name: string;
  parse(ev: ParsedEvent): boolean;
}

/** Where a parser finds the message, time and level among the fields it extracted. */
export interface FieldRoles {
  /** Field that becomes the message, or '' for the automatic list. */
  messageField: string;
  timestampField: string;
  levelField: string;
}

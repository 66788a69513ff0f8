import { ParseConfigError } from '../../model/errors.ts';
import type { ParserName, ParseSource } from '../parse-config.ts';
import type { Parser } from '../parser.ts';

export type ContentParserName = Exclude<ParserName, 'cri' | 'docker' | 'none'>;

export function createParser(name: ContentParserName, source: ParseSource): Parser {
  throw new ParseConfigError(`source ${source.name}: parser ${name} is not available yet: use parser none`);
}

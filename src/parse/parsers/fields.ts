import type { ParsedEvent } from '../../model/record.ts';
import { normalizeLevel } from '../level.ts';
import type { FieldRoles } from '../parser.ts';
import { parseTimeValue } from '../timestamp.ts';

export type Fields = Record<string, unknown>;

const AUTO_MESSAGE = ['message', 'msg'];
const AUTO_TIME = ['@timestamp', 'timestamp', 'time', 'ts'];
const AUTO_LEVEL = ['level', 'severity', 'lvl', 'log.level', 'loglevel'];

/**
 * A plain object: V8 keeps these in fast mode, which JSON.stringify encodes about twice as fast as
 * prototype-less ones. Keys taken from a log line must go through setField.
 */
export function newFields(): Fields {
  return {};
}

/** Assigns a key read from a log line: "__proto__" stays plain data instead of changing the prototype. */
export function setField(fields: Fields, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    fields[key] = value;
  }
}

/** Flat key first ("log.level"), then the nested path. */
export function lookup(fields: Fields, path: string): unknown {
  const flat = fields[path];
  if (flat !== undefined || !path.includes('.')) return flat;
  let v: unknown = fields;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Fields)[part];
  }
  return v;
}

/**
 * Takes message, time and level from freshly parsed fields into the event, then merges the fields
 * into `ev.fields` (a later parser in a chain adds to what an earlier one found). The message
 * field is moved (not copied) into the message: set to undefined rather than deleted, because
 * delete drops the object out of V8's fast mode and JSON.stringify skips undefined anyway.
 * Time and level stay in the fields as found. Returns the key of the field moved into the message.
 */
export function applyFields(ev: ParsedEvent, fields: Fields, roles: FieldRoles): string | undefined {
  let moved: string | undefined;
  if (roles.messageField !== '') {
    const m = fields[roles.messageField];
    if (typeof m === 'string') {
      ev.message = m;
      fields[roles.messageField] = undefined;
      moved = roles.messageField;
    }
  } else {
    for (let i = 0; i < AUTO_MESSAGE.length; i++) {
      const m = fields[AUTO_MESSAGE[i]];
      if (typeof m === 'string') {
        ev.message = m;
        fields[AUTO_MESSAGE[i]] = undefined;
        moved = AUTO_MESSAGE[i];
        break;
      }
    }
  }
  const ref = ev.chunk.readAt;
  if (roles.timestampField !== '') {
    const t = parseTimeValue(lookup(fields, roles.timestampField), ref);
    if (t !== undefined) ev.timestamp = t;
  } else {
    for (let i = 0; i < AUTO_TIME.length; i++) {
      const v = fields[AUTO_TIME[i]];
      if (v === undefined) continue;
      const t = parseTimeValue(v, ref);
      if (t !== undefined) {
        ev.timestamp = t;
        break;
      }
    }
  }
  if (roles.levelField !== '') {
    const l = normalizeLevel(lookup(fields, roles.levelField));
    if (l !== undefined) ev.level = l;
  } else {
    for (let i = 0; i < AUTO_LEVEL.length; i++) {
      const v = i === 3 ? lookup(fields, 'log.level') : fields[AUTO_LEVEL[i]];
      if (v === undefined) continue;
      const l = normalizeLevel(v);
      if (l !== undefined) {
        ev.level = l;
        break;
      }
    }
  }
  mergeFields(ev, fields);
  return moved;
}

export function mergeFields(ev: ParsedEvent, fields: Fields): void {
  if (ev.fields === undefined) {
    ev.fields = fields;
    return;
  }
  const into = ev.fields;
  ev.fieldsJson = undefined;
  for (const k of Object.keys(fields)) {
    if (fields[k] === undefined) continue;
    // defineProperty, not assignment: a "__proto__" key must not change the target's prototype.
    Object.defineProperty(into, k, {
      value: fields[k],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

/**
 * Key and topic templates: `"{service.name}/{kubernetes.namespace}"` is compiled once per source into
 * parts, then bound once per file (everything known per file becomes literal text), so a record
 * only looks up what changes per event (service.name from a parsed field, log.level, fields.*).
 */
import { EnrichConfigError } from '../model/errors.ts';
import type { ParsedEvent } from '../model/record.ts';

export type Ref =
  | { kind: 'host' }
  | { kind: 'service' }
  | { kind: 'level' }
  | { kind: 'file_path' }
  | { kind: 'source' }
  | { kind: 'k8s'; prop: 'namespace' | 'pod.name' | 'pod.uid' | 'container.name' }
  | { kind: 'container_id' }
  | { kind: 'label'; name: string }
  | { kind: 'capture'; name: string }
  | { kind: 'field'; path: readonly string[] };

export type TemplatePart = string | Ref;

/** Field references a template may use; a bare name not listed here means a parsed field. */
export function parseRef(path: string, what: string): Ref {
  const p = path.trim();
  switch (p) {
    case 'host':
    case 'host.name':
      return { kind: 'host' };
    case 'service':
    case 'service.name':
      return { kind: 'service' };
    case 'log.level':
    case 'level':
      return { kind: 'level' };
    case 'log.file.path':
      return { kind: 'file_path' };
    case 'source':
      return { kind: 'source' };
    case 'kubernetes.namespace':
      return { kind: 'k8s', prop: 'namespace' };
    case 'kubernetes.pod.name':
      return { kind: 'k8s', prop: 'pod.name' };
    case 'kubernetes.pod.uid':
      return { kind: 'k8s', prop: 'pod.uid' };
    case 'kubernetes.container.name':
      return { kind: 'k8s', prop: 'container.name' };
    case 'container.id':
      return { kind: 'container_id' };
  }
  if (p === '' || p.startsWith('.') || p.endsWith('.') || p.includes('..')) {
    throw new EnrichConfigError(
      `${what}: "{${path}}" is not a field path: use names like service.name or fields.user`,
    );
  }
  if (p.startsWith('labels.')) return { kind: 'label', name: p.slice(7) };
  if (p.startsWith('path.')) return { kind: 'capture', name: p.slice(5) };
  if (p.startsWith('fields.')) return { kind: 'field', path: p.slice(7).split('.') };
  return { kind: 'field', path: p.split('.') };
}

export function compileTemplate(text: string, what: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{', i);
    if (open < 0) {
      parts.push(text.slice(i));
      break;
    }
    const close = text.indexOf('}', open);
    if (close < 0) throw new EnrichConfigError(`${what}: "${text}" has an unclosed "{": close it with "}"`);
    if (open > i) parts.push(text.slice(i, open));
    parts.push(parseRef(text.slice(open + 1, close), what));
    i = close + 1;
  }
  return parts;
}

/** What is known once per file. */
export interface FileContext {
  host: string;
  /** service.name when not taken from a parsed field. */
  service: string;
  filePath: string;
  source: string;
  k8s: Record<string, string | undefined>;
  containerId: string | undefined;
  labels: Record<string, string | number | boolean>;
  captures: Record<string, string | undefined>;
}

export type DynRef = { kind: 'service' } | { kind: 'level' } | { kind: 'field'; path: readonly string[] };

/** A template bound to a file: a constant (undefined = a field is missing), or parts left for each event. */
export type BoundTemplate =
  | { readonly constant: true; readonly value: string | undefined }
  | { readonly constant: false; readonly parts: readonly (string | DynRef)[] };

export function bindTemplate(
  parts: readonly TemplatePart[],
  ctx: FileContext,
  serviceDynamic: boolean,
): BoundTemplate {
  const out: (string | DynRef)[] = [];
  let text = '';
  let dynamic = false;
  for (const part of parts) {
    let lit: string | undefined;
    if (typeof part === 'string') lit = part;
    else {
      switch (part.kind) {
        case 'host':
          lit = ctx.host;
          break;
        case 'service':
          if (serviceDynamic) {
            if (text !== '') out.push(text);
            text = '';
            out.push(part);
            dynamic = true;
            continue;
          }
          lit = ctx.service;
          break;
        case 'file_path':
          lit = ctx.filePath;
          break;
        case 'source':
          lit = ctx.source;
          break;
        case 'k8s':
          lit = ctx.k8s[part.prop];
          break;
        case 'container_id':
          lit = ctx.containerId;
          break;
        case 'label': {
          const v = ctx.labels[part.name];
          lit = v === undefined ? undefined : String(v);
          break;
        }
        case 'capture':
          lit = ctx.captures[part.name];
          break;
        case 'level':
        case 'field':
          if (text !== '') out.push(text);
          text = '';
          out.push(part);
          dynamic = true;
          continue;
      }
      if (lit === undefined || lit === '') return { constant: true, value: undefined };
    }
    text += lit;
  }
  if (!dynamic) return { constant: true, value: text };
  if (text !== '') out.push(text);
  return { constant: false, parts: out };
}

/** Looks up a dotted path in parsed fields; only strings, numbers and booleans count as present. */
export function fieldValue(
  fields: Record<string, unknown> | undefined,
  path: readonly string[],
): string | undefined {
  if (fields === undefined) return undefined;
  // A flat key with dots (logfmt "user.id=7") wins over nesting.
  const flat = path.length > 1 ? fields[path.join('.')] : undefined;
  let v: unknown = flat !== undefined ? flat : fields;
  if (flat === undefined) {
    for (let i = 0; i < path.length; i++) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string, unknown>)[path[i]];
    }
  }
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Renders per event; undefined when a referenced field is missing (the caller's fallback applies). */
export function renderTemplate(
  parts: readonly (string | DynRef)[],
  ev: ParsedEvent,
  service: string,
): string | undefined {
  let s = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (typeof p === 'string') {
      s += p;
      continue;
    }
    const v = p.kind === 'service' ? service : p.kind === 'level' ? ev.level : fieldValue(ev.fields, p.path);
    if (v === undefined || v === '') return undefined;
    s += v;
  }
  return s;
}

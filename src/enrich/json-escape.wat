;; The JSON string escaper of json-bytes.ts in WebAssembly with 128-bit SIMD: the source of
;; json-escape-wasm.ts (regenerate it with `node scripts/build-wasm.ts`; a test checks it is current).
;;
;; Memory is the byte arena's (model/byte-arena.ts), imported. `$tab` is the offset of two tables
;; the caller fills: 256 entries of 8 bytes, the escape sequence of each byte value, then 256 bytes,
;; the length of that sequence (0 for a byte copied as it is).
(module
  (import "arena" "memory" (memory 1))
  (import "arena" "tab" (global $tab i32))

  ;; Writes src[$i, $end) at $p as a JSON string with its quotes, escaped as JSON.stringify escapes
  ;; valid UTF-8, and returns the position after it, with bit 31 set when a byte of 0x80 or more was
  ;; read (the caller then asks `unitsDelta`). Sixteen bytes are read and stored at a time; the
  ;; position moves past the clean ones only, so the bytes after an escaped one are written again.
  ;; It reads up to 15 bytes after $end and writes up to 16 bytes after the returned position.
  (func $escape (export "escape") (param $i i32) (param $end i32) (param $p i32) (result i32)
    (local $v v128) (local $m i32) (local $rem i32) (local $c i32) (local $hi v128)
    (i32.store8 (local.get $p) (i32.const 0x22))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $v (v128.load align=1 (local.get $i)))
        (v128.store align=1 (local.get $p) (local.get $v))
        ;; lanes to escape: a quote, a backslash, a byte below 0x20
        (local.set $m (i8x16.bitmask
          (v128.or
            (v128.or
              (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x22)))
              (i8x16.eq (local.get $v) (i8x16.splat (i32.const 0x5c))))
            (i8x16.lt_u (local.get $v) (i8x16.splat (i32.const 0x20))))))
        ;; fewer than 16 bytes left: a stop at the end
        (local.set $rem (i32.sub (local.get $end) (local.get $i)))
        (if (i32.lt_u (local.get $rem) (i32.const 16))
          (then (local.set $m (i32.or (local.get $m) (i32.shl (i32.const 1) (local.get $rem))))))
        (local.set $hi (v128.or (local.get $hi) (local.get $v)))
        (if (i32.eqz (local.get $m))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $next)))
        (local.set $c (i32.ctz (local.get $m)))
        (local.set $i (i32.add (local.get $i) (local.get $c)))
        (local.set $p (i32.add (local.get $p) (local.get $c)))
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (i64.store align=1 (local.get $p)
          (i64.load align=1 (i32.add (global.get $tab) (i32.shl (local.get $c) (i32.const 3)))))
        (local.set $p (i32.add (local.get $p)
          (i32.load8_u offset=2048 (i32.add (global.get $tab) (local.get $c)))))
        (br $next)))
    (i32.store8 (local.get $p) (i32.const 0x22))
    (local.set $p (i32.add (local.get $p) (i32.const 1)))
    (if (result i32) (i8x16.bitmask (local.get $hi))
      (then (i32.or (local.get $p) (i32.const 0x80000000)))
      (else (local.get $p))))

  ;; UTF-16 units minus bytes of the valid UTF-8 src[$i, $end): -1 per continuation byte
  ;; (10xxxxxx), +1 per lead of a 4-byte sequence (11110xxx, two units).
  (func (export "unitsDelta") (param $i i32) (param $end i32) (result i32)
    (local $d i32) (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eq (i32.and (local.get $c) (i32.const 0xc0)) (i32.const 0x80))
          (then (local.set $d (i32.sub (local.get $d) (i32.const 1))))
          (else (if (i32.ge_u (local.get $c) (i32.const 0xf0))
            (then (local.set $d (i32.add (local.get $d) (i32.const 1)))))))
        (br $next)))
    (local.get $d))

  ;; A bare line's record value (enrich/enricher.ts LineWriter): head, the line as a JSON string,
  ;; mid, the offset in decimal, id, the offset again, tail. $pieces points to eight i32: the
  ;; address and length of head, mid, id and tail. Returns the position after it, bit 31 set as
  ;; `escape` sets it (for the line's bytes only).
  (func $value (param $p i32) (param $i i32) (param $end i32) (param $offset f64) (param $pieces i32)
    (result i32)
    (local $r i32) (local $hi i32) (local $v i64) (local $n i32) (local $digits i32) (local $q i32)
    (memory.copy (local.get $p) (i32.load (local.get $pieces)) (i32.load offset=4 (local.get $pieces)))
    (local.set $r (call $escape (local.get $i) (local.get $end)
      (i32.add (local.get $p) (i32.load offset=4 (local.get $pieces)))))
    (local.set $hi (i32.and (local.get $r) (i32.const 0x80000000)))
    (local.set $p (i32.and (local.get $r) (i32.const 0x7fffffff)))
    (memory.copy (local.get $p) (i32.load offset=8 (local.get $pieces)) (i32.load offset=12 (local.get $pieces)))
    (local.set $p (i32.add (local.get $p) (i32.load offset=12 (local.get $pieces))))
    ;; the offset's digits, written backwards from the end of their width
    (local.set $v (i64.trunc_f64_u (local.get $offset)))
    (local.set $n (i32.const 1))
    (block $counted
      (loop $count
        (br_if $counted (i64.lt_u (local.get $v) (i64.const 10)))
        (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $count)))
    (local.set $digits (local.get $p))
    (local.set $v (i64.trunc_f64_u (local.get $offset)))
    (local.set $q (i32.add (local.get $p) (local.get $n)))
    (loop $digit
      (local.set $q (i32.sub (local.get $q) (i32.const 1)))
      (i32.store8 (local.get $q) (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $v) (i64.const 0))))
    (local.set $p (i32.add (local.get $p) (local.get $n)))
    (memory.copy (local.get $p) (i32.load offset=16 (local.get $pieces)) (i32.load offset=20 (local.get $pieces)))
    (local.set $p (i32.add (local.get $p) (i32.load offset=20 (local.get $pieces))))
    (memory.copy (local.get $p) (local.get $digits) (local.get $n))
    (local.set $p (i32.add (local.get $p) (local.get $n)))
    (memory.copy (local.get $p) (i32.load offset=24 (local.get $pieces)) (i32.load offset=28 (local.get $pieces)))
    (local.set $p (i32.add (local.get $p) (i32.load offset=28 (local.get $pieces))))
    (i32.or (local.get $p) (local.get $hi)))

  ;; Bytes of the zigzag varint of a non-negative $v (its zigzag is 2 $v).
  (func $varintSize (param $v i32) (result i32)
    (local $n i32)
    (local.set $v (i32.shl (local.get $v) (i32.const 1)))
    (local.set $n (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.lt_u (local.get $v) (i32.const 0x80)))
        (local.set $v (i32.shr_u (local.get $v) (i32.const 7)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; Writes the zigzag varint of a non-negative $v at $q; returns the position after it.
  (func $varint (param $q i32) (param $v i32) (result i32)
    (local.set $v (i32.shl (local.get $v) (i32.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.lt_u (local.get $v) (i32.const 0x80)))
        (i32.store8 (local.get $q) (i32.or (i32.and (local.get $v) (i32.const 0x7f)) (i32.const 0x80)))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (local.set $v (i32.shr_u (local.get $v) (i32.const 7)))
        (br $next)))
    (i32.store8 (local.get $q) (local.get $v))
    (i32.add (local.get $q) (i32.const 1)))

  ;; A bare line's whole Kafka record (v2, as sink/record-batch.ts RecordsEncoder writes one): its
  ;; length, attributes 0, timestamp delta 0, offset delta $delta, the key (address and length at
  ;; $pieces + 32 and + 36; length -1: a null key), the value as `value` writes it, no headers.
  ;; $guess: the value's length guessed from above (the length varints are placed for it and the
  ;; bytes moved when a varint turns out wider or narrower). The value's length is left at
  ;; $pieces + 40. Returns the position after the record, bit 31 set as `value` sets it.
  (func (export "record") (param $p i32) (param $delta i32) (param $i i32) (param $end i32)
    (param $offset f64) (param $pieces i32) (param $guess i32) (result i32)
    (local $keyLen i32) (local $bodyWidth i32) (local $q i32) (local $valueWidth i32)
    (local $valueAt i32) (local $r i32) (local $valueLen i32) (local $w i32) (local $bodyLen i32)
    (local.set $keyLen (i32.load offset=36 (local.get $pieces)))
    (local.set $bodyWidth (call $varintSize (i32.add (i32.add (local.get $guess) (i32.const 8))
      (select (i32.const 0) (local.get $keyLen) (i32.lt_s (local.get $keyLen) (i32.const 0))))))
    (local.set $q (i32.add (local.get $p) (local.get $bodyWidth)))
    ;; attributes, timestamp delta
    (i32.store16 (local.get $q) (i32.const 0))
    (local.set $q (call $varint (i32.add (local.get $q) (i32.const 2)) (local.get $delta)))
    (if (i32.lt_s (local.get $keyLen) (i32.const 0))
      (then
        (i32.store8 (local.get $q) (i32.const 1))
        (local.set $q (i32.add (local.get $q) (i32.const 1))))
      (else
        (local.set $q (call $varint (local.get $q) (local.get $keyLen)))
        (memory.copy (local.get $q) (i32.load offset=32 (local.get $pieces)) (local.get $keyLen))
        (local.set $q (i32.add (local.get $q) (local.get $keyLen)))))
    (local.set $valueWidth (call $varintSize (local.get $guess)))
    (local.set $valueAt (i32.add (local.get $q) (local.get $valueWidth)))
    (local.set $r (call $value (local.get $valueAt) (local.get $i) (local.get $end) (local.get $offset)
      (local.get $pieces)))
    (local.set $valueLen (i32.sub (i32.and (local.get $r) (i32.const 0x7fffffff)) (local.get $valueAt)))
    (i32.store offset=40 (local.get $pieces) (local.get $valueLen))
    (local.set $w (call $varintSize (local.get $valueLen)))
    (if (i32.ne (local.get $w) (local.get $valueWidth))
      (then (memory.copy (i32.add (local.get $q) (local.get $w)) (local.get $valueAt) (local.get $valueLen))))
    (local.set $q (i32.add (call $varint (local.get $q) (local.get $valueLen)) (local.get $valueLen)))
    ;; no headers
    (i32.store8 (local.get $q) (i32.const 0))
    (local.set $q (i32.add (local.get $q) (i32.const 1)))
    (local.set $bodyLen (i32.sub (local.get $q) (i32.add (local.get $p) (local.get $bodyWidth))))
    (local.set $w (call $varintSize (local.get $bodyLen)))
    (if (i32.ne (local.get $w) (local.get $bodyWidth))
      (then
        (memory.copy (i32.add (local.get $p) (local.get $w)) (i32.add (local.get $p) (local.get $bodyWidth))
          (local.get $bodyLen))
        (local.set $q (i32.add (i32.add (local.get $p) (local.get $w)) (local.get $bodyLen)))))
    (drop (call $varint (local.get $p) (local.get $bodyLen)))
    (i32.or (local.get $q) (i32.and (local.get $r) (i32.const 0x80000000))))
)

/**
 * @module engine/transforms/hash
 * t:md5 and t:sha1. The digests are the raw bytes (16 and 20 of them, one char
 * per byte), not hex, exactly as ModSecurity returns them; t:hexEncode makes them readable.
 */
import { createHash } from 'node:crypto';

// 'binary' is Node's name for latin1: one char per byte of the digest.

/** t:md5 — the raw 16-byte MD5 digest of the value. */
export function md5(input: string): string {
  return createHash('md5').update(input, 'latin1').digest('binary');
}

/** t:sha1 — the raw 20-byte SHA-1 digest of the value. */
export function sha1(input: string): string {
  return createHash('sha1').update(input, 'latin1').digest('binary');
}


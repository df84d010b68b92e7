/**
 * Searching log text for secrets in every form a logger could print them: the bytes as hex
 * (either case), base64, base64url, a JSON byte array (how pino prints a Buffer), and UTF-8 for
 * text secrets. Long secrets are also searched by pieces (8-octet windows in hex, 12-octet
 * aligned chunks in base64), so a line that prints part of a key ("first bytes of SK_ei") is
 * caught too.
 */
export interface Secret {
  what: string;
  bytes: Buffer;
  /** A text secret (PSK, PEM): also searched as text. */
  text?: string;
}

function needles(s: Secret): string[] {
  const b = s.bytes;
  const out = new Set<string>();
  if (s.text && s.text.length >= 6) out.add(s.text);
  const pieces: Buffer[] = [b];
  if (b.length > 8) for (let i = 0; i + 8 <= b.length; i++) pieces.push(b.subarray(i, i + 8));
  for (const p of pieces) {
    out.add(p.toString('hex'));
    out.add(p.toString('hex').toUpperCase());
  }
  out.add(b.toString('base64'));
  out.add(b.toString('base64url'));
  for (let i = 0; i + 12 <= b.length; i += 3) {
    out.add(b.subarray(i, i + 12).toString('base64').replace(/=+$/, ''));
    out.add(b.subarray(i, i + 12).toString('base64url'));
  }
  out.add([...b.subarray(0, 8)].join(','));
  return [...out].filter((n) => n.length >= 8);
}

/** Every (secret, log line) pair where the line holds the secret in some form. */
export function findSecrets(lines: string[], secrets: Secret[]): string[] {
  const hits: string[] = [];
  for (const s of secrets) {
    if (s.bytes.length < 6) throw new Error(`secret ${s.what} too short to search for (${s.bytes.length} octets)`);
    const ns = needles(s);
    for (const line of lines) {
      const n = ns.find((x) => line.includes(x));
      if (n) hits.push(`${s.what} (as "${n.slice(0, 24)}...") in: ${line.slice(0, 300)}`);
    }
  }
  return hits;
}

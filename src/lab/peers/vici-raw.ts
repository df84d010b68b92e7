/**
 * Parser for swanctl's `--raw` output (vici messages printed as `key=value`, `name { ... }`
 * and `name [ a b ]`), e.g.
 *   list-sa event {gw {uniqueid=1 version=2 state=ESTABLISHED child-sas {net-1 {state=INSTALLED}}}}
 */
export type ViciValue = string | string[] | ViciSection;
export interface ViciSection {
  [key: string]: ViciValue;
}

export function parseViciRaw(text: string): ViciSection {
  // `key=[a b]` (a list) is printed with '=' before '[': make it `key [a b]`.
  const tokens = text.replace(/=\[/g, ' [').match(/\{|\}|\[|\]|[^\s{}[\]=]+=[^\s{}[\]]*|[^\s{}[\]]+/g) ?? [];
  let i = 0;
  const section = (): ViciSection => {
    const out: ViciSection = {};
    while (i < tokens.length) {
      const t = tokens[i++];
      if (t === '}') return out;
      if (t === '{') continue; // the outermost brace
      const eq = t.indexOf('=');
      if (eq > 0) {
        out[t.slice(0, eq)] = t.slice(eq + 1);
      } else if (tokens[i] === '{') {
        i++;
        out[t] = section();
      } else if (tokens[i] === '[') {
        i++;
        const list: string[] = [];
        while (i < tokens.length && tokens[i] !== ']') list.push(tokens[i++]);
        i++;
        out[t] = list;
      }
    }
    return out;
  };
  return section();
}

/** Child SAs of one IKE SA section (`child-sas { name-N { ... } }`). */
export function childSas(ike: ViciSection): ViciSection[] {
  const c = ike['child-sas'];
  return c && typeof c === 'object' && !Array.isArray(c) ? (Object.values(c) as ViciSection[]) : [];
}

/** The IKE SA sections of one `list-sa` event ({ connName: {...} }). */
export function ikeSas(event: ViciSection): [string, ViciSection][] {
  return Object.entries(event).filter(([, v]) => typeof v === 'object' && !Array.isArray(v)) as [string, ViciSection][];
}

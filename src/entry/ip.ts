// Textual IP address syntax for `source.ip`: IPv4 dotted-quad (RFC 791 text form, no leading
// zeros, which some parsers read as octal) or IPv6 (RFC 4291 §2.2, with `::` and an optional
// embedded IPv4 tail; no zone id). Any case; canonical RFC 5952 form is not required.

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false; // 45 = longest form with an IPv4 tail
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groupsOf = (part: string): string[] | null => (part === '' ? [] : part.split(':'));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === null || tail === null) return false;
  const all = [...head, ...tail];
  let count = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i]!;
    const isLast = i === all.length - 1;
    if (isLast && g.includes('.') && !s.endsWith('::')) {
      if (!isIPv4(g)) return false;
      count += 2;
    } else if (HEX_GROUP.test(g)) {
      count += 1;
    } else {
      return false;
    }
  }
  return halves.length === 2 ? count <= 7 : count === 8;
}

export function isIpAddress(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

/**
 * The key a person is compared by for separation of duties: ids from different systems (the
 * identity provider, an approval system) may differ in case or stray whitespace, and "Riley" must
 * not approve a change "riley" requested, nor count twice. Both systems must name people the same
 * way (`approvals.issuers[].subjectClaim` picks the claim that does).
 */
export function personKey(id: string): string {
  return id.normalize('NFKC').trim().toLowerCase();
}

export function samePerson(a: string, b: string): boolean {
  return personKey(a) === personKey(b);
}

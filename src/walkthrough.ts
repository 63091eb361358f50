/** The walkthrough `flaggate serve --walkthrough` prints: copy-paste steps against the running sidecar. */
export function walkthroughText(o: { proxyUrl: string; controlUrl: string; cli: string; dataDir: string }): string {
  const cli = `${o.cli} dev-token --data-dir ${o.dataDir}`;
  return `
flaggate is running in front of the flagd file ${o.dataDir}/flags.flagd.json (environment "production").
  proxy port   ${o.proxyUrl}   (the flag API, proxied and authorized)
  control port ${o.controlUrl}   (metrics, health, audit)

Try it from another terminal:

  # 1. Mint development tokens (trusted only by this default configuration)
  QA=$(${cli} --sub quinn --role qa)
  RE=$(${cli} --sub riley --role release_engineer)
  AUD=$(${cli} --sub ada --role auditor)

  # 2. Read the flags
  curl -s -H "Authorization: Bearer $QA" ${o.proxyUrl}/flags

  # 3. A denied change: qa may not write in production (403, POLICY_DENIED, recorded)
  curl -s -X POST -H "Authorization: Bearer $QA" ${o.proxyUrl}/flags/checkout.new-flow/enable

  # 4. An allowed change: a release engineer, with the reason and ticket production requires
  curl -s -X POST -H "Authorization: Bearer $RE" -H "X-Flaggate-Reason: launch checkout v2" \\
       -H "X-Flaggate-Ticket: CHG-1042" ${o.proxyUrl}/flags/checkout.new-flow/enable

  # 5. A critical flag needs a second person: the change is held (202) with a change request id
  curl -s -X POST -H "Authorization: Bearer $RE" -H "X-Flaggate-Reason: enable payouts" \\
       -H "X-Flaggate-Ticket: CHG-1043" ${o.proxyUrl}/flags/payments.instant-payouts/enable
  RE2=$(${cli} --sub sam --role release_engineer)
  FLAGGATE_TOKEN=$RE2 ${o.cli} changes list --control ${o.controlUrl}           # the held changes, as a table
  ID=$(curl -s -H "Authorization: Bearer $RE2" "${o.controlUrl}/v1/changes?status=pending" | node -pe 'JSON.parse(require("fs").readFileSync(0)).changes[0].id')
  curl -s -H "Authorization: Bearer $RE2" ${o.controlUrl}/v1/changes/$ID            # before/after and diff
  curl -s -X POST -H "Authorization: Bearer $RE" -H "content-type: application/json" -d '{"reason":"mine"}' \\
       ${o.controlUrl}/v1/changes/$ID/approve                                        # refused: APPROVAL_SELF
  curl -s -X POST -H "Authorization: Bearer $RE2" -H "content-type: application/json" -d '{"reason":"lgtm"}' \\
       ${o.controlUrl}/v1/changes/$ID/approve                                        # applied

  # 6. The audit entries: every decision, refusal, request, approval and outcome
  curl -s -H "Authorization: Bearer $AUD" ${o.controlUrl}/v1/audit/entries

  # 7. Verify the hash chain, checkpoints and timestamps: {"ok":true,...}
  curl -s -H "Authorization: Bearer $AUD" ${o.controlUrl}/v1/audit/verify
  ${o.cli} verify --db ${o.dataDir}/ledger.sqlite

Press Ctrl-C to stop.

The same review in a browser (development sign-in: any Name, Role release_engineer or auditor):
  open ${o.controlUrl}/console/
`;
}

// Prints a Prometheus rules file holding every query of a Grafana dashboard as a recording rule,
// so `promtool check rules` parses each one as PromQL. Grafana's own variables become fixed values.
//   node scripts/dashboard-rules.mjs docs/grafana/flaggate-dashboard.json > rules.yml
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';

const file = process.argv[2];
if (!file) throw new TypeError('usage: dashboard-rules.mjs DASHBOARD.json');
const dashboard = JSON.parse(readFileSync(file, 'utf8'));

/** Every panel, rows' children included. */
function* panels(list) {
  for (const panel of list ?? []) {
    yield panel;
    yield* panels(panel.panels);
  }
}

const grafanaVariables = (expr) =>
  expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{?[A-Za-z_]\w*\}?/g, 'x');

const rules = [];
for (const panel of panels(dashboard.panels)) {
  for (const [i, target] of (panel.targets ?? []).entries()) {
    if (typeof target.expr !== 'string' || target.expr.trim() === '') {
      throw new Error(`panel "${panel.title}" target ${i} has no expression`);
    }
    rules.push({ record: `dashboard:panel_${panel.id ?? rules.length}_${i}`, expr: grafanaVariables(target.expr) });
  }
}
if (rules.length === 0) throw new Error(`${file}: no panel queries found`);
process.stdout.write(stringify({ groups: [{ name: 'dashboard', rules }] }));

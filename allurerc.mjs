// Allure 3 configuration for kubedrill reports (`kubedrill report`, `make drill`, `kubedrill gameday`).
// - awesome: the interactive report; awesomeSingle: the same as one self-contained file that opens offline;
//   dashboard: status and duration trends across runs.
// - historyPath keeps one line per run, so trends survive between nightly runs (CI caches reports/history/).
// - performance: the drills' figures (recovery, election, outage, availability, RTO), written by kubedrill
//   as a *-perf.json per run, shown in the report's Metrics section with their change since the last run.
// - categories separate a cluster that broke its SLO from a drill that could not run or could not undo itself.
import { defineConfig } from "allure";

export default defineConfig({
  name: "kubedrill drills",
  output: "./reports/allure-report",
  // `kubedrill report` points this next to the report it writes (<output>/../history/allure.jsonl).
  historyPath: process.env.KUBEDRILL_ALLURE_HISTORY ?? "./reports/history/allure.jsonl",
  categories: {
    rules: [
      { name: "SLO violations", matchers: { statuses: ["failed"], message: /SloViolation/ } },
      { name: "Fault injection failures", matchers: { statuses: ["broken", "failed"], message: /FaultInjectionError/ } },
      { name: "Rollback failures", matchers: { statuses: ["broken", "failed"], message: /RollbackFailed/ } },
      { name: "Unmet preconditions", matchers: { statuses: ["broken", "failed", "skipped"], message: /PreconditionFailed/ } },
    ],
  },
  performance: {
    groups: {
      recovery: { title: "Recovery time per drill (s)" },
      election: { title: "etcd leader election (s)" },
      outage: { title: "Longest API write outage (s)" },
      availability: { title: "API write availability in the fault window (%)" },
      rto: { title: "Restore RTO (s)" },
    },
  },
  plugins: {
    awesome: { options: { singleFile: false, reportLanguage: "en", reportName: "kubedrill drills" } },
    awesomeSingle: {
      import: "@allurereport/plugin-awesome",
      options: { singleFile: true, reportLanguage: "en", reportName: "kubedrill drills (single file)" },
    },
    dashboard: {
      options: {
        reportName: "kubedrill trends",
        layout: [
          { type: "statusDynamics", title: "Drill verdicts across runs", limit: 30 },
          { type: "durationDynamics", title: "Drill durations across runs", limit: 30 },
          { type: "currentStatus", title: "This run" },
        ],
      },
    },
  },
});

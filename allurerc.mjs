// Allure 3 configuration for kubedrill reports (`kubedrill report`, `make drill`).
// Categories separate a cluster that broke its SLO from a drill that could not run or could not undo itself.
import { defineConfig } from "allure";

export default defineConfig({
  name: "kubedrill drills",
  output: "./reports/allure-report",
  historyPath: "./reports/history.jsonl",
  categories: {
    rules: [
      { name: "SLO violations", matchers: { statuses: ["failed"], message: /SloViolation/ } },
      { name: "Fault injection failures", matchers: { statuses: ["broken", "failed"], message: /FaultInjectionError/ } },
      { name: "Rollback failures", matchers: { statuses: ["broken", "failed"], message: /RollbackFailed/ } },
      { name: "Unmet preconditions", matchers: { statuses: ["broken", "failed", "skipped"], message: /PreconditionFailed/ } },
    ],
  },
  plugins: {
    awesome: { options: { singleFile: false, reportLanguage: "en" } },
  },
});

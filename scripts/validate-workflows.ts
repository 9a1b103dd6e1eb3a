/**
 * Validates GitHub Actions workflow files offline.
 *
 *   node --import tsx scripts/validate-workflows.ts [FILE ...]   (default: .github/workflows/*.yml)
 *
 * Checks, each reported as file:line with the path in the workflow:
 *  - YAML syntax (duplicate keys are errors);
 *  - the GitHub workflow JSON schema (via @action-validator/core: unknown or
 *    misspelt keys, wrong types, jobs that `needs` a job that does not exist);
 *  - every `run:` that names a project script (`scripts/...`) points at a file
 *    that exists, and every `npm run X` / `npm X` names a script in package.json;
 *  - every action is pinned to a full commit SHA (`owner/repo@<40 hex>`), and
 *    every job states `timeout-minutes`.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { validateWorkflow } from "@action-validator/core";
import { LineCounter, parseDocument } from "yaml";
import { fieldPath, fieldPosition, type PathKey } from "./yaml-location.js";

export interface WorkflowProblem {
  file: string;
  line: number;
  /** Where in the workflow, e.g. jobs.test.steps[3].run. */
  where: string;
  message: string;
}

/** npm's own commands that `npm X` may name without `run`. */
const NPM_BUILTINS = new Set(["ci", "install", "i", "exec", "pack", "publish", "audit", "ls", "version", "view", "cache"]);
/** `npm X` shorthands that run package.json scripts. */
const NPM_SCRIPT_SHORTHANDS = new Set(["test", "start", "stop", "restart"]);

/** Project references in one shell script: scripts/... paths and npm script names. */
export function scriptReferences(run: string): { files: string[]; npmScripts: string[] } {
  const files = [...run.matchAll(/(?:^|[\s"'=(])((?:\.\/)?scripts\/[\w./-]+)/g)].map((m) => m[1]!.replace(/^\.\//, ""));
  const npmScripts: string[] = [];
  for (const m of run.matchAll(/\bnpm\s+(?:--?[\w-]+(?:=\S+)?\s+)*(run(?:-script)?\s+)?([\w:.-]+)/g)) {
    const name = m[2]!;
    if (m[1]) npmScripts.push(name);
    else if (NPM_SCRIPT_SHORTHANDS.has(name)) npmScripts.push(name);
  }
  return { files, npmScripts };
}

/** Validates one workflow's text; `root` is the project the workflow runs in. */
export function checkWorkflow(text: string, file: string, root: string): WorkflowProblem[] {
  const problems: WorkflowProblem[] = [];
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return doc.errors.map((error) => ({
      file,
      line: lines.linePos(error.pos[0]).line,
      where: "",
      message: `YAML: ${error.message.split("\n")[0]}`,
    }));
  }
  const at = (keys: PathKey[], message: string): void => {
    problems.push({ file, line: fieldPosition(doc.contents, keys, lines).line, where: fieldPath(keys), message });
  };

  const state = validateWorkflow(text);
  // For a oneOf (e.g. a job is either a normal job or a reusable-workflow
  // call), report the branch that came closest to matching.
  const flatten = (errors: typeof state.errors): typeof state.errors =>
    errors.flatMap((e) => {
      if (!("states" in e) || !e.states?.length) return [e];
      const closest = e.states.reduce((best, s) => (s.errors.length < best.errors.length ? s : best));
      return flatten(closest.errors);
    });
  const seen = new Set<string>();
  for (const error of flatten(state.errors)) {
    const pointer = "path" in error ? error.path : "";
    const keys = pointer
      .split("/")
      .slice(1)
      .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    const message = `${error.title}${error.detail ? `: ${error.detail}` : ""}`;
    // oneOf branches repeat the same complaint; report it once.
    if (seen.has(`${pointer} ${message}`)) continue;
    seen.add(`${pointer} ${message}`);
    at(keys, `schema: ${message}`);
  }

  const workflow = doc.toJS() as { jobs?: Record<string, Record<string, unknown>> } | null;
  let scripts: Record<string, string> = {};
  try {
    scripts = (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { scripts?: Record<string, string> })
      .scripts ?? {};
  } catch {
    at([], "package.json not found or unreadable");
  }
  for (const [jobName, job] of Object.entries(workflow?.jobs ?? {})) {
    if (typeof job !== "object" || job === null) continue;
    if (job["timeout-minutes"] === undefined && job.uses === undefined) {
      at(["jobs", jobName], "job has no timeout-minutes");
    }
    const steps = Array.isArray(job.steps) ? (job.steps as Record<string, unknown>[]) : [];
    steps.forEach((step, i) => {
      if (typeof step !== "object" || step === null) return;
      if (typeof step.uses === "string" && !step.uses.startsWith("./") && !step.uses.startsWith("docker://")) {
        if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(step.uses)) {
          at(["jobs", jobName, "steps", i, "uses"], `action "${step.uses}" is not pinned to a full commit SHA`);
        }
      }
      if (typeof step.run !== "string") return;
      const { files, npmScripts } = scriptReferences(step.run);
      for (const ref of files) {
        if (!existsSync(path.join(root, ref))) {
          at(["jobs", jobName, "steps", i, "run"], `runs ${ref}, which does not exist`);
        }
      }
      for (const name of npmScripts) {
        if (!NPM_BUILTINS.has(name) && scripts[name] === undefined) {
          at(["jobs", jobName, "steps", i, "run"], `runs npm script "${name}", which package.json does not define`);
        }
      }
    });
  }
  return problems.sort((a, b) => a.line - b.line);
}

export function workflowFiles(root: string): string[] {
  const dir = path.join(root, ".github", "workflows");
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => /\.ya?ml$/.test(name))
        .sort()
        .map((name) => path.join(dir, name))
    : [];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.cwd();
  const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles(root);
  const problems = files.flatMap((file) => checkWorkflow(readFileSync(file, "utf8"), file, root));
  for (const p of problems) process.stderr.write(`${p.file}:${p.line}: ${p.where ? `${p.where}: ` : ""}${p.message}\n`);
  process.stdout.write(`${files.length} workflow file(s), ${problems.length} problem(s)\n`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}

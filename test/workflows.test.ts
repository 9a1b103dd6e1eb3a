/**
 * .github/workflows: schema-valid (scripts/validate-workflows.ts), every
 * script and npm script they run exists, actions pinned, least privilege, and
 * the jobs the delivery depends on are there. Broken variants are caught.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { checkWorkflow, scriptReferences, workflowFiles } from "../scripts/validate-workflows.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const CI = path.join(REPO, ".github", "workflows", "ci.yml");
const ciText = readFileSync(CI, "utf8");

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ci = parse(ciText) as Obj;
const steps = (job: string): Obj[] => ci.jobs[job].steps;
const runs = (job: string): string => steps(job).map((s) => s.run ?? "").join("\n");

describe("workflow files", () => {
  it("pass the schema and reference checks", () => {
    const files = workflowFiles(REPO);
    expect(files.map((f) => path.basename(f))).toContain("ci.yml");
    for (const file of files) {
      expect(checkWorkflow(readFileSync(file, "utf8"), file, REPO), file).toEqual([]);
    }
  });

  it("run on pushes and pull requests to main, and on version tags", () => {
    expect(ci.on.push.branches).toEqual(["main"]);
    expect(ci.on.push.tags).toEqual(["v*"]);
    expect(ci.on.pull_request.branches).toEqual(["main"]);
  });

  it("cancel superseded runs and grant only read access, except publishing packages", () => {
    expect(ci.concurrency).toEqual({
      group: "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}",
      "cancel-in-progress": true,
    });
    expect(ci.permissions).toEqual({ contents: "read" });
    for (const [name, job] of Object.entries(ci.jobs as Record<string, Obj>)) {
      if (name === "publish") expect(job.permissions).toEqual({ contents: "read", packages: "write" });
      else expect(job.permissions, name).toBeUndefined();
    }
    expect(ci.jobs.publish.if).toContain("startsWith(github.ref, 'refs/tags/v')");
  });

  it("test on Node 20, 22 and 24, including the .nvmrc default, with the npm cache", () => {
    const nvmrc = readFileSync(path.join(REPO, ".nvmrc"), "utf8").trim();
    const matrix: string[] = ci.jobs.test.strategy.matrix.node;
    expect(matrix).toEqual(["20", "22", "24"]);
    expect(matrix).toContain(nvmrc);
    const setup = steps("test").find((s) => String(s.uses).startsWith("actions/setup-node@"))!;
    expect(setup.with).toEqual({ "node-version": "${{ matrix.node }}", cache: "npm" });
    expect(runs("test").split("\n")).toEqual(
      expect.arrayContaining(["npm ci --no-audit --no-fund", "npm run typecheck", "npm run lint", "npm test"]),
    );
    for (const job of ["contract", "train", "container", "publish"]) {
      const other = steps(job).find((s) => String(s.uses).startsWith("actions/setup-node@"))!;
      expect(other.with["node-version-file"], job).toBe(".nvmrc");
    }
  });

  it("lint the proto, fail on generated-code drift, and run buf breaking on pull requests", () => {
    expect(runs("contract")).toContain("npx --no-install buf lint");
    expect(runs("contract")).toContain("bash scripts/check-generated.sh");
    const breaking = steps("contract").find((s) => String(s.run).includes("scripts/check-breaking.sh"))!;
    expect(breaking.if).toBe("github.event_name == 'pull_request'");
    expect(breaking.env).toEqual({ BASE_REF: "${{ github.base_ref }}" });
    const checkout = steps("contract").find((s) => String(s.uses).startsWith("actions/checkout@"))!;
    expect(checkout.with["fetch-depth"]).toBe(0);
  });

  it("train with the quality gate, check reproducibility, and upload the model, metrics and report", () => {
    expect(runs("train")).toMatch(/npm run train -- --out "\$RUNNER_TEMP\/trained" --min-accuracy 0\.\d+/);
    expect(runs("train")).toContain('bash scripts/check-reproducible.sh "$RUNNER_TEMP/trained"');
    const upload = steps("train").find((s) => String(s.uses).startsWith("actions/upload-artifact@"))!;
    expect(upload.if).toBe("always()");
    expect(upload.with.path).toBe("${{ runner.temp }}/trained/");
  });

  it("check the container with docker and push it to GHCR on tags", () => {
    const check = steps("container").find((s) => String(s.run).includes("scripts/container-check.sh"))!;
    expect(check.env.CONTAINER_ENGINE).toBe("docker");
    expect(ci.jobs.publish.needs).toEqual(["test", "contract", "train", "container"]);
    expect(runs("publish")).toContain("bash scripts/container-build.sh");
    expect(runs("publish")).toContain("docker push");
    expect(runs("publish")).toContain("io.iris-serve.model.version");
  });

  it("pass untrusted context values to scripts through env, never inline", () => {
    for (const [name, job] of Object.entries(ci.jobs as Record<string, Obj>)) {
      for (const step of job.steps as Obj[]) {
        if (typeof step.run === "string") expect(step.run, `${name}: ${step.run}`).not.toMatch(/\$\{\{/);
      }
    }
  });
});

describe("scripts/validate-workflows.ts catches broken workflows", () => {
  const variant = (from: string, to: string) => {
    expect(ciText).toContain(from);
    return checkWorkflow(ciText.replace(from, to), "ci.yml", REPO);
  };

  it("finds project references in shell steps", () => {
    expect(scriptReferences('npm run train -- --x 1 && bash scripts/a.sh "$X"\nnpm test\nnpm ci')).toEqual({
      files: ["scripts/a.sh"],
      npmScripts: ["train", "test"],
    });
  });

  it("a misspelt job key", () => {
    const problems = variant("  train:\n    name: continuous training", "  train:\n    nmae: continuous training");
    expect(problems.map((p) => p.message)).toContain(
      "schema: Property conditions are not met: Additional property 'nmae' is not allowed",
    );
  });

  it("a step running a script that does not exist", () => {
    const problems = variant("bash scripts/check-generated.sh", "bash scripts/check-generatd.sh");
    expect(problems).toEqual([
      expect.objectContaining({
        where: "jobs.contract.steps[4].run",
        message: "runs scripts/check-generatd.sh, which does not exist",
      }),
    ]);
  });

  it("an npm script package.json does not define", () => {
    const problems = variant("run: npm run typecheck", "run: npm run type-check");
    expect(problems.map((p) => p.message)).toEqual(['runs npm script "type-check", which package.json does not define']);
  });

  it("a job that needs a job that does not exist, an unpinned action, a job without a timeout", () => {
    expect(variant("needs: [test, contract, train, container]", "needs: [test, contracts]").map((p) => p.message)).toEqual([
      "schema: Unresolved job: unresolved job contracts",
    ]);
    expect(
      variant("actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02", "actions/upload-artifact@v4").map(
        (p) => p.message,
      ),
    ).toEqual(['action "actions/upload-artifact@v4" is not pinned to a full commit SHA']);
    expect(variant("    timeout-minutes: 10\n    steps:", "    steps:").map((p) => p.message)).toEqual([
      "job has no timeout-minutes",
    ]);
  });

  it("YAML with a duplicate key", () => {
    const problems = variant("permissions:\n  contents: read\n", "permissions:\n  contents: read\n  contents: write\n");
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/^YAML: Map keys must be unique/);
  });
});

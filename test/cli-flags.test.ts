/** The flag helpers every command uses: src/cli/command.ts, and the remote address of src/cli/remote.ts. */
import { describe, expect, it } from "vitest";
import { numberFlag, parseFlags } from "../src/cli/command.js";
import { remoteAddress } from "../src/cli/remote.js";
import { Code } from "../src/errors.js";

const options = { c: { type: "string" }, verbose: { type: "boolean" } } as const;

describe("parseFlags", () => {
  it("takes a negative number after a value flag as its value, so that range checks can report it", () => {
    expect(parseFlags(["--c", "-1"], options).values.c).toBe("-1");
    expect(parseFlags(["--c", "-.5", "--verbose"], options).values).toEqual({ c: "-.5", verbose: true });
    expect(parseFlags(["--c=-2e3"], options).values.c).toBe("-2e3");
  });

  it("still refuses a flag where a value should be, in one line", () => {
    let error: unknown;
    try {
      parseFlags(["--c", "--verbose"], options);
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect((error as Error).message).toMatch(/^Option '--c' argument is ambiguous\./);
    expect((error as Error).message).not.toContain("\n");
  });

  it("refuses unknown flags and positionals as usage errors", () => {
    expect(() => parseFlags(["--bogus"], options)).toThrow("Unknown option '--bogus'");
    expect(() => parseFlags(["-1"], options)).toThrow(/Unknown option '-1'/);
    expect(() => parseFlags(["stray"], options)).toThrow(/Unexpected argument 'stray'/);
  });
});

describe("numberFlag", () => {
  it("reads decimal numbers", () => {
    expect(numberFlag("c", "1", 0)).toBe(1);
    expect(numberFlag("c", " 0.25 ", 0)).toBe(0.25);
    expect(numberFlag("c", ".5", 0)).toBe(0.5);
    expect(numberFlag("c", "-3", 0)).toBe(-3);
    expect(numberFlag("c", "1e-10", 0)).toBe(1e-10);
    expect(numberFlag("c", undefined, 7)).toBe(7);
  });

  it.each(["0x10", "0b1", "0o7", "1_000", "Infinity", "1e999", "", " ", "1,5", "abc"])(
    "refuses %j, which Number() would read otherwise or not at all",
    (raw) => {
      expect(() => numberFlag("seed", raw, 0)).toThrow(`--seed must be a number, got "${raw}"`);
    },
  );

  it("checks whole numbers and ranges", () => {
    expect(() => numberFlag("folds", "2.5", 0, { integer: true })).toThrow('--folds must be a whole number, got "2.5"');
    expect(() => numberFlag("timeout-ms", "0", 1, { min: 1 })).toThrow("--timeout-ms must be >= 1, got 0");
    expect(() => numberFlag("x", "3", 0, { min: 0, max: 2 })).toThrow("--x must be between 0 and 2, got 3");
  });
});

describe("remoteAddress", () => {
  it.each([
    ["localhost", "localhost:50051"],
    ["127.0.0.1", "127.0.0.1:50051"],
    [" iris.example.com ", "iris.example.com:50051"],
    ["10.0.0.7:6000", "10.0.0.7:6000"],
    ["[::1]", "[::1]:50051"],
    ["[::1]:7000", "[::1]:7000"],
    ["::1", "[::1]:50051"],
    ["fe80::1:2", "[fe80::1:2]:50051"],
    ["dns:///iris-serve-headless.default.svc.cluster.local", "dns:///iris-serve-headless.default.svc.cluster.local:50051"],
    ["dns:///iris.example.com:443", "dns:///iris.example.com:443"],
    ["dns://8.8.8.8/iris.example.com", "dns://8.8.8.8/iris.example.com:50051"],
    ["dns:[::1]", "dns:[::1]:50051"],
    ["unix:/run/iris.sock", "unix:/run/iris.sock"],
    ["ipv4:10.0.0.1:50051,10.0.0.2:50051", "ipv4:10.0.0.1:50051,10.0.0.2:50051"],
  ])("%j dials %j (the server's default port when none is given)", (given, dialled) => {
    expect(remoteAddress("remote", given)).toBe(dialled);
  });

  it.each(["host:0", "host:65536", "host:", ":50051", "host:5o", "[]", "[::1]:", "a b", "dns:///"])("refuses %j, naming the flag", (given) => {
    expect(() => remoteAddress("address", given)).toThrow(
      `--address must be HOST or HOST:PORT with a port from 1 to 65535 ([::1] for IPv6), got "${given}"`,
    );
  });

  it("refuses an empty address", () => {
    expect(() => remoteAddress("remote", "  ")).toThrow("--remote must be HOST or HOST:PORT, got an empty string");
  });
});

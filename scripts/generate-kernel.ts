/**
 * Writes src/model/gen/softmax-kernel.ts: the WebAssembly batch kernel of
 * IrisModel (src/model/softmax-kernel.ts runs it), assembled with wabt from
 * the WebAssembly text below. `npm run generate` runs it after buf, and
 * scripts/check-generated.sh fails when the committed file differs from
 * what this writes. It lives beside the model that runs it, apart from
 * src/gen/ (which is buf's output, whole).
 *
 *   tsx scripts/generate-kernel.ts [out.ts]
 *
 * The kernel scores two rows at a time (one per 128-bit SIMD lane) of a
 * 3-class, 4-feature model and turns the scores into probabilities with
 * exactly the operations, in exactly the order, of the JavaScript kernel
 * (IrisModel's predictBatch3x4): the same multiply-adds, the same first
 * class among equal scores, and exp as V8's Math.exp computes it, which is
 * fdlibm's __ieee754_exp (e_exp.c), whose steps are written out here for
 * two lanes. WebAssembly's f64 operations are IEEE 754 with round to
 * nearest and never fused, on every platform, so the results are the
 * JavaScript kernel's bit for bit: test/softmax-kernel.test.ts compares
 * them on arbitrary inputs.
 *
 * It only computes exp where fdlibm takes its main path with a normal
 * result: an argument of 0, or in (-707, -2^-28]. A pair of rows with any
 * other (a score not finite, an argument so close to 0 or so negative) is
 * left to the JavaScript kernel: the kernel lists those rows.
 *
 * V8 inlines no WebAssembly call by default, so exp is written out, once
 * per class, by the template below.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";

/** fdlibm's constants (e_exp.c), as decimal literals that round to its bits. */
const LN2_HI = "6.93147180369123816490e-01";
const LN2_LO = "1.90821492927058770002e-10";
const INV_LN2 = "1.44269504088896338700e+00";
const P = [
  "1.66666666666666019037e-01",
  "-2.77777777770155933842e-03",
  "6.61375632143793436117e-05",
  "-1.65339022054652515390e-06",
  "4.13813679705723846039e-08",
];

const both = (v: string): string => `(v128.const f64x2 ${v} ${v})`;

/**
 * exp of both lanes of $d<i>, into $e<i>: __ieee754_exp's argument
 * reduction (k = 0 below half of ln 2 in magnitude, where fdlibm's high-word
 * test puts it; else k truncated from x / ln 2 - 1/2, which is -1 across
 * fdlibm's own ±1 branch), its polynomial, and 2^k applied by a multiply,
 * exact for the normal results this range gives (fdlibm adds k to the
 * exponent bits).
 */
function exp(i: number): string {
  const l = (name: string): string => `(local.get $${name}${i})`;
  return `
    (local.set $k${i} (v128.bitselect
      (f64x2.trunc (f64x2.sub (f64x2.mul ${both(INV_LN2)} ${l("d")}) ${both("0.5")}))
      ${both("0")}
      ;; |x| > 0x3fd62e42 in fdlibm's high word
      (f64x2.ge (f64x2.abs ${l("d")}) (v128.const i32x4 0 0x3fd62e43 0 0x3fd62e43))))
    (local.set $hi${i} (f64x2.sub ${l("d")} (f64x2.mul ${l("k")} ${both(LN2_HI)})))
    (local.set $lo${i} (f64x2.mul ${l("k")} ${both(LN2_LO)}))
    (local.set $r${i} (f64x2.sub ${l("hi")} ${l("lo")}))
    (local.set $t${i} (f64x2.mul ${l("r")} ${l("r")}))
    (local.set $c${i} (f64x2.sub ${l("r")} (f64x2.mul ${l("t")}
      (f64x2.add ${both(P[0]!)} (f64x2.mul ${l("t")}
      (f64x2.add ${both(P[1]!)} (f64x2.mul ${l("t")}
      (f64x2.add ${both(P[2]!)} (f64x2.mul ${l("t")}
      (f64x2.add ${both(P[3]!)} (f64x2.mul ${l("t")} ${both(P[4]!)})))))))))))
    (local.set $e${i} (f64x2.mul
      (f64x2.sub ${both("1")}
        (f64x2.sub (f64x2.sub ${l("lo")} (f64x2.div (f64x2.mul ${l("r")} ${l("c")}) (f64x2.sub ${both("2")} ${l("c")}))) ${l("hi")}))
      (i64x2.shl
        (i64x2.add (i64x2.extend_low_i32x4_s (i32x4.trunc_sat_f64x2_s_zero ${l("k")})) (v128.const i64x2 1023 1023))
        (i32.const 52))))`;
}

/** All-ones lanes where exp's argument $d<i> is outside what exp() above computes as fdlibm does. */
function outside(i: number): string {
  const d = `(local.get $d${i})`;
  return `(v128.or
      (v128.or (f64x2.ne ${d} ${d}) (f64x2.le ${d} ${both("-707")}))
      (v128.and (f64x2.lt ${d} ${both("0")}) (f64x2.gt ${d} ${both("-0x1p-28")})))`;
}

/** b + w·x left to right, as the JavaScript kernel adds. */
function score(c: number): string {
  const w = (j: number): string => `(f64x2.mul (local.get $w${4 * c + j}) (local.get $x${j}))`;
  return `(f64x2.add (f64x2.add (f64x2.add (f64x2.add (local.get $b${c}) ${w(0)}) ${w(1)}) ${w(2)}) ${w(3)})`;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const locals = (names: string[], type: string): string => names.map((n) => `(local $${n} ${type})`).join(" ");

const wat = `(module
  (memory (export "memory") 1)
  ;; softmax3x4(params, x, rows, classes, probabilities, left) -> how many rows are left
  ;; params: 12 weights (class-major) then 3 intercepts, f64; x: rows × 4 f64;
  ;; classes: rows i32; probabilities: rows × 3 f64; left: the indices (i32) of
  ;; the rows left to the JavaScript kernel (their classes and probabilities
  ;; are not written).
  (func (export "softmax3x4")
    (param $params i32) (param $x i32) (param $rows i32) (param $classes i32) (param $out i32) (param $left i32)
    (result i32)
    ${locals([...range(12).map((i) => `w${i}`), ...range(3).map((i) => `b${i}`)], "v128")}
    ${locals(["x0", "x1", "x2", "x3", "z0", "z1", "z2", "max", "best", "m", "inv"], "v128")}
    ${locals(range(3).flatMap((i) => ["d", "k", "hi", "lo", "r", "t", "c", "e"].map((n) => `${n}${i}`)), "v128")}
    (local $row i32) (local $n i32) (local $two i32) (local $next i32)
    ${range(15)
      .map((i) => `(local.set $${i < 12 ? `w${i}` : `b${i - 12}`} (v128.load64_splat offset=${8 * i} (local.get $params)))`)
      .join("\n    ")}
    (block $done
      (loop $pair
        (br_if $done (i32.ge_u (local.get $row) (local.get $rows)))
        ;; rows row and row + 1 in the two lanes (the last row in both when rows is odd)
        (local.set $two (i32.lt_u (i32.add (local.get $row) (i32.const 1)) (local.get $rows)))
        (local.set $next (select (i32.add (local.get $x) (i32.const 32)) (local.get $x) (local.get $two)))
        ${range(4)
          .map(
            (j) =>
              `(local.set $x${j} (v128.load64_lane offset=${8 * j} 1 (local.get $next) (v128.load64_zero offset=${8 * j} (local.get $x))))`,
          )
          .join("\n        ")}
        ${range(3)
          .map((c) => `(local.set $z${c} ${score(c)})`)
          .join("\n        ")}
        ;; the first class with the highest score
        (local.set $max (local.get $z0))
        (local.set $m (f64x2.gt (local.get $z1) (local.get $max)))
        (local.set $max (v128.bitselect (local.get $z1) (local.get $max) (local.get $m)))
        (local.set $best (v128.and (local.get $m) (v128.const i64x2 1 1)))
        (local.set $m (f64x2.gt (local.get $z2) (local.get $max)))
        (local.set $max (v128.bitselect (local.get $z2) (local.get $max) (local.get $m)))
        (local.set $best (v128.bitselect (v128.const i64x2 2 2) (local.get $best) (local.get $m)))
        ;; exp's arguments: 0 exactly for the best class (exp gives 1, as the JavaScript kernel takes it)
        ${range(3)
          .map((c) => `(local.set $d${c} (f64x2.sub (local.get $z${c}) (local.get $max)))`)
          .join("\n        ")}
        (if (v128.any_true (v128.or (v128.or ${outside(0)} ${outside(1)}) ${outside(2)}))
          (then
            ;; both rows are left to the JavaScript kernel
            (i32.store (i32.add (local.get $left) (i32.shl (local.get $n) (i32.const 2))) (local.get $row))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (if (local.get $two) (then
              (i32.store (i32.add (local.get $left) (i32.shl (local.get $n) (i32.const 2))) (i32.add (local.get $row) (i32.const 1)))
              (local.set $n (i32.add (local.get $n) (i32.const 1))))))
          (else
            ${range(3).map(exp).join("\n")}
            (local.set $inv (f64x2.div ${both("1")} (f64x2.add (f64x2.add (local.get $e0) (local.get $e1)) (local.get $e2))))
            ${range(3)
              .map((c) => `(local.set $e${c} (f64x2.mul (local.get $e${c}) (local.get $inv)))`)
              .join("\n            ")}
            (i32.store (local.get $classes) (i32x4.extract_lane 0 (local.get $best)))
            ${range(3)
              .map((c) => `(v128.store64_lane offset=${8 * c} 0 (local.get $out) (local.get $e${c}))`)
              .join("\n            ")}
            (if (local.get $two) (then
              (i32.store offset=4 (local.get $classes) (i32x4.extract_lane 2 (local.get $best)))
              ${range(3)
                .map((c) => `(v128.store64_lane offset=${24 + 8 * c} 1 (local.get $out) (local.get $e${c}))`)
                .join("\n              ")}))))
        (local.set $row (i32.add (local.get $row) (i32.const 2)))
        (local.set $x (i32.add (local.get $x) (i32.const 64)))
        (local.set $classes (i32.add (local.get $classes) (i32.const 8)))
        (local.set $out (i32.add (local.get $out) (i32.const 48)))
        (br $pair)))
    (local.get $n)))
`;

const wabt = await wabtInit();
const module = wabt.parseWat("softmax-kernel.wat", wat, { simd: true });
module.validate();
const { buffer } = module.toBinary({});
module.destroy();

const out = process.argv[2] ?? fileURLToPath(new URL("../src/model/gen/softmax-kernel.ts", import.meta.url));
const base64 = Buffer.from(buffer).toString("base64");
writeFileSync(
  out,
  `// Generated by scripts/generate-kernel.ts (npm run generate); do not edit.
// The WebAssembly batch kernel of IrisModel (see src/model/softmax-kernel.ts), ${buffer.length} bytes.

export const SOFTMAX_KERNEL_WASM =
  "${base64}";
`,
);
console.log(`wrote ${out} (${buffer.length} bytes of WebAssembly)`);

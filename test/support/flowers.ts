/** Sample flowers shared by the suites (measurements in cm, from data/iris.csv). */

/** Row 1 of data/iris.csv, a setosa. */
export const SETOSA = { sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 };

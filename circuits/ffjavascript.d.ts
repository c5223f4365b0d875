/** The part of ffjavascript (snarkjs's WebAssembly field and curve arithmetic) circuits/ uses. */
declare module 'ffjavascript' {
  /** Points and field elements are Montgomery-form byte buffers. */
  type Element = Uint8Array;

  interface Field {
    n8: number;
    fromObject(value: unknown): Element;
    neg(a: Element): Element;
    mul(a: Element, b: Element): Element;
    exp(a: Element, exponent: bigint): Element;
    add(a: Element, b: Element): Element;
    square(a: Element): Element;
    isSquare(a: Element): boolean;
    sqrt(a: Element): Element;
  }

  interface CurveGroup {
    fromObject(coordinates: unknown[]): Element;
    /** A bigint scalar, or its little-endian bytes; the cost follows its bit length. */
    timesScalar(point: Element, scalar: bigint | Uint8Array): Element;
    add(a: Element, b: Element): Element;
    double(a: Element): Element;
    eq(a: Element, b: Element): boolean;
    toAffine(point: Element): Element;
    neg(a: Element): Element;
    isValid(point: Element): boolean;
    toJacobian(point: Element): Element;
    isZero(point: Element): boolean;
    zero: Element;
    /** The generator and the curve's b. */
    g: Element;
    b: Element;
    toObject(point: Element): unknown[];
  }

  interface Gt {
    one: Element;
    mul(a: Element, b: Element): Element;
    eq(a: Element, b: Element): boolean;
  }

  export interface Bn128 {
    r: bigint;
    q: bigint;
    F1: Field;
    F2: Field;
    G1: CurveGroup;
    G2: CurveGroup;
    Gt: Gt;
    /** Both take a point in Jacobian coordinates (toJacobian). */
    prepareG1(point: Element): Element;
    prepareG2(point: Element): Element;
    millerLoop(preparedG1: Element, preparedG2: Element): Element;
    finalExponentiation(value: Element): Element;
    terminate(): Promise<void>;
  }

  export function buildBn128(singleThread?: boolean): Promise<Bn128>;
}

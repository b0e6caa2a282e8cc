/**
 * aws-local-stepfunctions 3 declares Node 22; the only Node 22 API it calls is `Promise.withResolvers`
 * (TaskStateAction's timeout race). This machine runs Node 20, so install the standard behaviour before the
 * library is loaded. `AbortSignal.any`, the other recent API it uses, exists since Node 20.3.
 */
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const P = Promise as unknown as { withResolvers?: <T>() => Resolvers<T> };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = <T>(): Resolvers<T> => {
    let resolve!: Resolvers<T>['resolve'];
    let reject!: Resolvers<T>['reject'];
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};

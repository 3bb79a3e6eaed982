// Values the global setup hands to every test file through vitest's provide/inject.
declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
    /** The test run's main process: owner of every database the run creates. */
    testRunPid: number;
  }
}
export {};

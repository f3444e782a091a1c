import { spawn } from "node:child_process";

// `npm start` as a child process (its own process group), for the e2e harness, the SCIM peer run
// and the benchmarks: started with the given environment, ready when it prints its banner.

export type AppProcess = { output: () => string; /** The app's process id (its process group: it is started detached). */ pid: number; stop: () => Promise<void>; /** kill -9 the whole process group (the fault tests' crash). */ kill: () => Promise<void> };

export async function startApp(env: NodeJS.ProcessEnv, options: { ready?: RegExp; timeoutMs?: number } = {}): Promise<AppProcess> {
  const ready = options.ready ?? /Identity console ready at/;
  // Node with tsx as a loader, not the tsx CLI: the CLI is a parent process that relays SIGTERM
  // and SIGKILLs its child if the child does not acknowledge within 30 ms, which under load
  // orphaned `next start` instead of stopping it gracefully (`npm start` runs the same way).
  // APP_CPU_PROFILE_DIR: the app writes a V8 CPU profile there when it stops (profiling a benchmark).
  const profile = env.APP_CPU_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${env.APP_CPU_PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, "--conditions=react-server", "--import", "tsx", "scripts/start.ts"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const stop = async () => {
    if (child.exitCode !== null || !child.pid) return;
    // start.ts stops the app, then its embedded Postgres; the group is killed only if it hangs.
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The app did not start within ${Math.round((options.timeoutMs ?? 360_000) / 1000)} s:\n${output.slice(-4000)}`)), options.timeoutMs ?? 360_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`The app exited (${code}) before it was ready:\n${output.slice(-4000)}`));
    });
  }).catch(async (error) => {
    await stop();
    throw error;
  });
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    const exited = new Promise((r) => child.once("exit", r));
    process.kill(-child.pid, "SIGKILL");
    await exited;
  };
  return { output: () => output, pid: child.pid!, stop, kill };
}

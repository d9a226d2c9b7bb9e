/**
 * Step 1 with Terraform: the relay's own setup guide (`GET /v2/recording-storage/setup/{provider}`,
 * the one a customer gets) written unchanged as main.tf, the customer's values as
 * terraform.tfvars.json, then init and apply; destroy removes it all. Breaking the trust adds an
 * override file (Terraform's `*_override.tf` merge) to the same directory and applies; restoring
 * deletes it and applies the guide again, so the restored state is exactly the guide's.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SetupGuide } from "../src/setup/guide.ts";
import type { Cleanups } from "./cleanup.ts";
import type { Relay } from "./relay.ts";

/** The files of the Terraform working directory: the guide's text and the customer's values. */
export function terraformFiles(
  guide: Pick<SetupGuide, "terraform">,
  variables: Record<string, string>,
): Record<string, string> {
  return {
    "main.tf": guide.terraform,
    "terraform.tfvars.json": `${JSON.stringify(variables, null, 2)}\n`,
  };
}

/** The workspace's setup guide of `provider`, from the relay's API, as a customer gets it. */
export async function guideFromRelay(
  relay: Pick<Relay, "call">,
  provider: string,
): Promise<SetupGuide> {
  const answer = await relay.call("GET", `/v2/recording-storage/setup/${provider}`);
  if (answer.status !== 200) {
    throw new Error(
      `the ${provider} setup guide answered ${answer.status}: ${JSON.stringify(answer.body)}`,
    );
  }
  return answer.body as SetupGuide;
}

const OVERRIDE = "conformance_break_override.tf";

export class TerraformWorkspace {
  readonly dir: string;
  readonly #signal: AbortSignal;
  readonly #say: (line: string) => void;
  #running: Promise<unknown> = Promise.resolve();
  #initialized = false;

  private constructor(dir: string, signal: AbortSignal, say: (line: string) => void) {
    this.dir = dir;
    this.#signal = signal;
    this.#say = say;
  }

  /**
   * Writes the guide's files into a new directory, and registers in `cleanups` the destruction of
   * everything applied from it (`what`), then the directory's removal; a failed destroy keeps the
   * directory, for `terraform destroy` by hand.
   */
  static async create(
    files: Record<string, string>,
    cleanups: Cleanups,
    what: string,
    signal: AbortSignal,
    say: (line: string) => void,
  ): Promise<TerraformWorkspace> {
    const dir = await mkdtemp(join(tmpdir(), "relay-conformance-tf-"));
    const workspace = new TerraformWorkspace(dir, signal, say);
    cleanups.add({
      what: `${what} (terraform destroy in ${dir})`,
      manually: `cd ${dir} && terraform destroy -auto-approve && rm -r ${dir}`,
      run: async () => {
        await workspace.destroy();
        await rm(dir, { recursive: true, force: true });
      },
    });
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(dir, name), text, { mode: 0o600 });
    }
    return workspace;
  }

  async init(): Promise<void> {
    await this.#run(["init", "-input=false", "-no-color"]);
    this.#initialized = true;
  }

  async apply(): Promise<void> {
    await this.#run(["apply", "-input=false", "-no-color", "-auto-approve"]);
  }

  /** Destroys every resource of the state (none before init); runs even after an interruption. */
  async destroy(): Promise<void> {
    await this.#running.catch(() => {});
    if (!this.#initialized) return;
    await rm(join(this.dir, OVERRIDE), { force: true });
    await this.#run(["destroy", "-input=false", "-no-color", "-auto-approve"], false);
  }

  async output(name: string): Promise<string> {
    return (await this.#run(["output", "-raw", "-no-color", name])).trim();
  }

  /** Applies the guide with `override` merged in (Terraform override file), or without any. */
  async applyOverride(override: string | undefined): Promise<void> {
    if (override === undefined) await rm(join(this.dir, OVERRIDE), { force: true });
    else await writeFile(join(this.dir, OVERRIDE), override);
    await this.apply();
  }

  /** Runs terraform; one command at a time (destroy waits for an interrupted apply to stop). */
  #run(args: string[], abortable = true): Promise<string> {
    const run = this.#running.catch(() => {}).then(() => this.#spawn(args, abortable));
    this.#running = run;
    return run;
  }

  #spawn(args: string[], abortable: boolean): Promise<string> {
    if (abortable) this.#signal.throwIfAborted();
    this.#say(`  terraform ${args[0]} (in ${this.dir})`);
    return new Promise((resolve, reject) => {
      const child = spawn("terraform", args, {
        cwd: this.dir,
        env: { ...process.env, TF_IN_AUTOMATION: "1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk;
      });
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk;
      });
      // Terraform stops gracefully on SIGINT (it saves its state first).
      const onAbort = () => child.kill("SIGINT");
      if (abortable) this.#signal.addEventListener("abort", onAbort, { once: true });
      child.on("error", (error) => {
        reject(
          new Error(
            (error as NodeJS.ErrnoException).code === "ENOENT"
              ? "terraform is not installed (https://developer.hashicorp.com/terraform/install); it applies the setup guide"
              : `terraform ${args[0]}: ${error.message}`,
          ),
        );
      });
      child.on("close", (code) => {
        this.#signal.removeEventListener("abort", onAbort);
        if (code === 0) resolve(out);
        else {
          const tail = (err || out).trim().split("\n").slice(-25).join("\n");
          reject(new Error(`terraform ${args[0]} failed (exit ${code}):\n${tail}`));
        }
      });
    });
  }
}

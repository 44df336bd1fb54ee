/**
 * The configuration schemas: the one source for validation, TypeScript types and the config
 * reference in the README. Objects are strict — an unknown key is an error, never ignored.
 */
import { z } from 'zod';
import { parseSize } from './size.js';

export const ARCHITECTURES = ['amd64', 'arm64'] as const;
export const Architecture = z.enum(ARCHITECTURES);
export type Architecture = z.infer<typeof Architecture>;

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
export const Name = z
  .string()
  .regex(NAME, { message: 'a name of lowercase letters, digits, ".", "_" and "-", starting with a letter or digit' });

/** A size in bytes, written as an integer or a string like "512M" or "2GiB". */
export const Size = z
  .union([z.number(), z.string()])
  .transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined || bytes <= 0) {
      ctx.addIssue({ code: 'custom', message: `expected a size like "512M" or "2GiB", got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return bytes;
  });

export const ParameterValue = z.union([z.string(), z.number(), z.boolean()]);
export type ParameterValue = z.infer<typeof ParameterValue>;

// ---------------------------------------------------------------- recipes

export const ParameterSpec = z
  .strictObject({
    type: z.enum(['string', 'integer', 'boolean']).default('string'),
    default: ParameterValue.optional(),
    required: z.boolean().default(false),
    description: z.string().optional(),
  })
  .superRefine((spec, ctx) => {
    const value = spec.default;
    if (value === undefined) return;
    // A default is a value like any other: of the parameter's type, and never beside `required`.
    const ok = spec.type === 'string' ? typeof value === 'string' : spec.type === 'integer' ? Number.isInteger(value) : typeof value === 'boolean';
    if (!ok) ctx.addIssue({ code: 'custom', path: ['default'], message: `the default of a${spec.type === 'integer' ? 'n' : ''} ${spec.type} parameter must be ${spec.type === 'integer' ? 'an integer' : `a ${spec.type}`}, got ${JSON.stringify(value)}` });
    if (spec.required) ctx.addIssue({ code: 'custom', path: ['required'], message: 'a parameter with a default is never missing: give `required = true` or a `default`, not both' });
  });
export type ParameterSpec = z.infer<typeof ParameterSpec>;

export const RecipeStep = z
  .strictObject({
    /** Debian packages installed with apt-get inside the rootfs. */
    packages: z.array(z.string().min(1)).optional(),
    /** With `packages`: also install recommended packages. */
    recommends: z.boolean().optional(),
    /** A script (path relative to the recipe) run inside the rootfs with chroot. */
    chroot: z.string().min(1).optional(),
    /** A script run outside the rootfs, in the worker, with the rootfs path in BAKERY_ROOTFS. */
    host: z.string().min(1).optional(),
    /** A directory of the recipe copied over the rootfs root (ownership root:root, modes kept). */
    files: z.string().min(1).optional(),
    description: z.string().optional(),
  })
  .superRefine((step, ctx) => {
    const kinds = (['packages', 'chroot', 'host', 'files'] as const).filter((k) => step[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          kinds.length === 0
            ? 'a step needs one of `packages`, `chroot`, `host` or `files`'
            : `a step has exactly one kind, got ${kinds.map((k) => `\`${k}\``).join(' and ')}`,
      });
    }
    if (step.recommends !== undefined && step.packages === undefined) {
      ctx.addIssue({ code: 'custom', message: '`recommends` goes with a `packages` step', path: ['recommends'] });
    }
  });
export type RecipeStep = z.infer<typeof RecipeStep>;

export const RecipeFile = z.strictObject({
  description: z.string(),
  dependencies: z.array(Name).default([]),
  parameters: z
    .record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'a parameter name of lowercase letters, digits and _'), ParameterSpec)
    .default({}),
  steps: z.array(RecipeStep).default([]),
});
export type RecipeFile = z.infer<typeof RecipeFile>;

// ---------------------------------------------------------------- layers

export const Bootstrap = z.strictObject({
  suite: z.string().min(1),
  variant: z.enum(['minbase', 'required', 'important', 'standard', 'essential', 'apt', 'buildd']).default('minbase'),
  components: z.array(z.string().min(1)).default(['main']),
  packages: z.array(z.string().min(1)).default([]),
  /** Apt mirror URL. Unset: the bootstrap tool's own default. BAKERY_MIRROR overrides it. */
  mirror: z.string().url().optional(),
});
export type Bootstrap = z.infer<typeof Bootstrap>;

export const LayerFile = z
  .strictObject({
    description: z.string().optional(),
    parent: Name.optional(),
    bootstrap: Bootstrap.optional(),
    recipes: z.array(Name).default([]),
    /** `[parameters.<recipe>] name = value` */
    parameters: z.record(Name, z.record(z.string(), ParameterValue)).default({}),
  })
  .superRefine((layer, ctx) => {
    if ((layer.parent === undefined) === (layer.bootstrap === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message:
          layer.parent === undefined
            ? 'a layer needs either `parent = "<layer>"` or a `[bootstrap]` table'
            : 'a layer has either `parent` or `[bootstrap]`, not both',
      });
    }
  });
export type LayerFile = z.infer<typeof LayerFile>;

// ---------------------------------------------------------------- systems.toml

/** A duration: seconds, or a string like "90s", "5m", "1h"; parsed to seconds. */
export const Duration = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\d+(s|m|h)$/, 'a duration like "90s", "5m" or "1h"')
    .transform((v) => Number(v.slice(0, -1)) * { s: 1, m: 60, h: 3600 }[v.slice(-1) as 's' | 'm' | 'h']),
], { error: 'a duration: seconds, or a string like "90s", "5m" or "1h"' });

/** A duration that may be switched off: `0` or "off", else as Duration. */
export const DurationOrOff = z.union([z.literal(0), z.literal('off').transform(() => 0), Duration], {
  error: 'a duration (seconds, or "90s", "5m", "1h"), or 0 / "off"',
});

/**
 * A version RAUC can compare (its relaxed semantic versioning): 1 to 3 numeric parts, then an
 * optional pre-release (no "-" inside: RAUC splits at the last one) and build.
 */
export const RAUC_SEMVER = /^\d+(\.\d+){0,2}(-[0-9A-Za-z.]+)?(\+[0-9A-Za-z.-]+)?$/;

export const CacheSettings = z.strictObject({
  /** Where built layers and downloaded packages are kept; default `~/.cache/bakery` (BAKERY_CACHE_DIR overrides). */
  dir: z.string().optional(),
  /** Least recently used layers are evicted above this size, e.g. "50G". */
  'max-size': Size.optional(),
});

export const ImageSettings = z.strictObject({
  /** The whole image; the data partition takes what the other partitions leave. */
  size: Size.optional(),
  /** Each rootfs slot; default: the content plus headroom for growth (set it for production). */
  'rootfs-size': Size.optional(),
  'data-size': Size.optional(),
  /** A compressed copy next to system.img. */
  compress: z.enum(['none', 'zstd', 'xz']).default('none'),
});

export const SystemEntry = z.strictObject({
  description: z.string().optional(),
  layer: Name,
  architecture: Architecture,
  target: Name,
  /** The system's version, in build info and bundles. */
  version: z.string().min(1).default('0.1.0'),
  image: ImageSettings.default({ compress: 'none' }),
  /** Size limit of the tmpfs taking writes to the read-only root, e.g. "256M". */
  'overlay-size': z.string().regex(/^\d+[KMG%]?$/, 'a size like "256M" or a share of memory like "25%"').optional(),
  /** More paths kept on /data across reboots and updates. */
  'persistent-paths': z.array(z.string().regex(/^\/[^\s]*$/, 'an absolute path without spaces')).default([]),
  /** Parameter values for the target's recipes: `[systems.<name>.parameters.<recipe>]`. */
  parameters: z.record(Name, z.record(z.string(), ParameterValue)).default({}),
  /** Files the target needs (bootloader blobs): `<input name> = "path"`, relative to the project. */
  inputs: z.record(Name, z.string()).default({}),
  bundle: z
    .strictObject({
      /** RAUC's compatible string; the device refuses bundles of another. Default: the system's name. */
      compatible: z.string().min(1).optional(),
      /** Signing certificate (PEM), relative to the project; default keys/dev.cert.pem. */
      cert: z.string().default('keys/dev.cert.pem'),
      /** Signing key (PEM); BAKERY_SIGNING_KEY (a path) overrides it for CI secrets. */
      key: z.string().default('keys/dev.key.pem'),
      /** Certificate(s) the device trusts (PEM); default: the signing certificate. A CA for production. */
      keyring: z.string().optional(),
      /** Devices of this system install bundles older than the version they run (no RAUC min-bundle-version). */
      'allow-downgrade': z.boolean().default(false),
    })
    .default({ cert: 'keys/dev.cert.pem', key: 'keys/dev.key.pem', 'allow-downgrade': false }),
  /** When the device confirms a booted slot: every check in /etc/bakery/health.d passes in time. */
  health: z
    .strictObject({
      /** How long the checks get, e.g. "90s" or "5m" (each check is retried until then). */
      timeout: Duration.default(300),
      /** A failed check reboots (falling back to the previous slot) or stays up unconfirmed. */
      'on-failure': z.enum(['reboot', 'stay']).default('reboot'),
      /** The built-in check that no systemd unit has failed. */
      'check-failed-units': z.boolean().default(true),
      /** A slot on trial not confirmed this long after power-on reboots (and falls back); 0 / "off": no deadline. */
      'boot-deadline': DurationOrOff.default(600),
      /** The hardware watchdog's timeout, armed and petted by systemd; 0 / "off": not armed. */
      watchdog: DurationOrOff.default(30),
      /** Seconds from a kernel panic or initramfs failure to the reboot; 0 / "off": hang / shell (debugging only). */
      'panic-reboot': DurationOrOff.default(10),
    })
    .superRefine((h, ctx) => {
      if (h['boot-deadline'] > 0 && h['boot-deadline'] <= h.timeout) {
        ctx.addIssue({ code: 'custom', path: ['boot-deadline'], message: `must be longer than the health timeout (${h.timeout} s): the boot and the checks must fit before it` });
      }
    })
    .default({ timeout: 300, 'on-failure': 'reboot', 'check-failed-units': true, 'boot-deadline': 600, watchdog: 30, 'panic-reboot': 10 }),
}).superRefine((system, ctx) => {
  if (!system.bundle['allow-downgrade'] && !RAUC_SEMVER.test(system.version)) {
    ctx.addIssue({
      code: 'custom',
      path: ['version'],
      message: `devices refuse bundles older than the version they run, which RAUC compares as a semantic version: expected MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD] like "2.1.0", got ${JSON.stringify(system.version)} (or set bundle.allow-downgrade = true)`,
    });
  }
});
export type SystemEntry = z.infer<typeof SystemEntry>;

export const SystemsFile = z.strictObject({
  /** Timestamp for reproducible builds (seconds since 1970); SOURCE_DATE_EPOCH overrides it. */
  'source-date-epoch': z.number().int().nonnegative().optional(),
  cache: CacheSettings.default({}),
  systems: z.record(Name, SystemEntry).default({}),
});
export type SystemsFile = z.infer<typeof SystemsFile>;

/** Keys that users of other tools (Rugix, debos) write by habit, with what we call them. */
export const KNOWN_MISTAKES: Record<string, string> = {
  recipe: 'recipes',
  deps: 'dependencies',
  arch: 'architecture',
  params: 'parameters',
  parameter: 'parameters',
  package: 'packages',
  install: 'chroot',
  run: 'host',
  layers: 'layer',
  distribution: 'suite',
  dist: 'suite',
};

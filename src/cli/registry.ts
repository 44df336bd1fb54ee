/** Every command, registered in one place. Bodies live in commands/<name>.ts, loaded on use. */
import type { CommandDefinition } from './command.js';

const EXECUTOR = { type: 'string', choices: ['auto', 'docker', 'local'], default: 'auto', describe: 'where privileged steps run' } as const;
const LOCKED = { type: 'boolean', default: false, describe: 'refuse to build other Debian package versions than bakery.lock holds (checked against the mirror before building)' } as const;
const ACCEL = { type: 'string', choices: ['auto', 'kvm', 'tcg'], default: 'auto', describe: 'VM acceleration: auto probes KVM and falls back to TCG' } as const;

/** Descriptions of command groups ("bake", "cache"). */
export const GROUPS: Record<string, string> = {
  bake: 'build layers, images and bundles',
  cache: 'inspect and clean the layer cache',
  keys: 'signing keys for bundles',
};

export const COMMANDS: CommandDefinition[] = [
  {
    path: 'bake layer',
    describe: 'build a layer (and its parents) into the layer cache',
    positionals: { layer: { type: 'string', describe: 'layer name', demandOption: true } },
    options: {
      arch: { type: 'string', choices: ['amd64', 'arm64'], default: 'amd64', describe: 'architecture' },
      executor: EXECUTOR,
      'dry-run': { type: 'boolean', default: false, describe: 'print the plan (layers, recipes, cache keys) and stop' },
      export: { type: 'string', describe: 'also write the layer\'s root filesystem to this tar file (reproducible: sorted, fixed times)' },
    },
    examples: [
      ['$0 bake layer debian-trixie --arch arm64', 'bootstrap trixie for arm64'],
      ['$0 bake layer demo --export demo.tar', 'the demo layer as a tarball (e.g. for docker import)'],
    ],
    load: () => import('./commands/bake-layer.js'),
  },
  {
    path: 'bake image',
    describe: 'build a system\'s provisioning image: build/<system>/system.img (+ .bmap, build-info.json, SBOMs), its packages recorded in bakery.lock',
    positionals: { system: { type: 'string', describe: 'system name from systems.toml', demandOption: true } },
    options: {
      executor: EXECUTOR,
      locked: LOCKED,
      'dry-run': { type: 'boolean', default: false, describe: 'print the layer plan and stop' },
    },
    examples: [['$0 bake image demo-efi-amd64', 'build the demo image']],
    load: () => import('./commands/bake-image.js'),
  },
  {
    path: 'bake bundle',
    describe: 'build a signed RAUC update bundle (build/<system>/system.raucb), its release manifest and SBOMs',
    positionals: { system: { type: 'string', describe: 'system name', demandOption: true } },
    options: {
      executor: EXECUTOR,
      locked: LOCKED,
      'bundle-version': { type: 'string', describe: 'the bundle\'s version (default: the system\'s version)' },
      'dry-run': { type: 'boolean', default: false, describe: 'check keys, version and image as the build would, print the plan and stop' },
      'without-compression': { type: 'boolean', default: false, describe: 'skip squashfs compression (fast local iteration)' },
    },
    load: () => import('./commands/bake-bundle.js'),
  },
  {
    path: 'bake release',
    describe: 'a release: each system\'s image, bmap, bundle, manifest and SBOMs in build/release/<version>/ with SHA256SUMS',
    positionals: { systems: { type: 'string', array: true, describe: 'systems to release (default: every system that can be built)' } },
    options: {
      executor: EXECUTOR,
      locked: LOCKED,
      'bundle-version': { type: 'string', describe: 'the release\'s version (default: the systems\' version)' },
    },
    examples: [['BAKERY_SIGNING_KEY=/run/secrets/key.pem $0 bake release --locked --json', 'in CI: the release of the committed package set, described on stdout']],
    load: () => import('./commands/bake-release.js'),
  },
  {
    path: 'diff',
    describe: 'what changed between two builds: packages added, removed, upgraded per layer, layers rebuilt',
    positionals: {
      from: { type: 'string', describe: 'the older build: a build-info.json, build/<system>, or a release directory', demandOption: true },
      to: { type: 'string', describe: 'the newer build, the same way', demandOption: true },
    },
    examples: [['$0 diff build/release/1.0.0 build/release/1.1.0', 'the package changes of a release, per system']],
    load: () => import('./commands/diff.js'),
  },
  {
    path: 'keys generate',
    describe: 'make a development signing pair: keys/<name>.cert.pem and keys/<name>.key.pem (git-ignored)',
    options: {
      name: { type: 'string', default: 'dev', describe: 'file name stem' },
      dir: { type: 'string', default: 'keys', describe: 'directory, relative to the project' },
      force: { type: 'boolean', default: false, describe: 'replace an existing pair' },
      executor: EXECUTOR,
    },
    load: () => import('./commands/keys-generate.js'),
  },
  {
    path: 'run',
    describe: 'boot a system in QEMU (building its image first if needed); the image itself never changes',
    positionals: { system: { type: 'string', describe: 'system name', demandOption: true } },
    options: {
      executor: EXECUTOR,
      memory: { type: 'number', default: 1024, describe: 'memory in MiB' },
      cpus: { type: 'number', default: 2, describe: 'virtual CPUs' },
      'ssh-port': { type: 'number', default: 2222, describe: 'host port (127.0.0.1) forwarded to the guest\'s ssh' },
      'disk-size': { type: 'string', describe: 'virtual disk size (default: the image + 1 GiB, so /data can grow)' },
      'restrict-network': { type: 'boolean', default: false, describe: 'no traffic from the guest beyond the forwarded port' },
      accel: ACCEL,
    },
    examples: [['$0 run demo-efi-amd64', 'boot the demo; log in as root / bakery']],
    load: () => import('./commands/run.js'),
  },
  {
    path: 'test',
    describe: 'run the test workflows (tests/*.toml) on systems booted in QEMU; JUnit XML for CI',
    positionals: { systems: { type: 'string', array: true, describe: 'systems to test (default: those the workflows name)' } },
    options: {
      workflow: { type: 'string', array: true, describe: 'run only this workflow (tests/<name>.toml), or NAME@SYSTEM: only on that system; repeatable' },
      jobs: { type: 'number', default: 1, describe: 'machines running at once' },
      junit: { type: 'string', describe: 'also write the JUnit XML here' },
      'without-compression': { type: 'boolean', default: false, describe: 'bundles for install steps without squashfs compression (faster)' },
      keep: { type: 'boolean', default: false, describe: 'keep each machine\'s disk overlay after the run' },
      accel: ACCEL,
      executor: EXECUTOR,
    },
    examples: [['$0 test demo-efi-amd64 --junit results.xml', 'run every workflow on the demo system']],
    load: () => import('./commands/test.js'),
  },
  {
    path: 'init',
    describe: 'start a product repository from a template: systems, a layer, a recipe, a VM test, a pinned run-bakery, a README',
    positionals: { dir: { type: 'string', describe: 'the directory to write (default: this one)' } },
    options: {
      template: { type: 'string', default: 'efi', describe: 'the template (--list shows them)' },
      name: { type: 'string', describe: 'the product\'s name (default: the directory\'s)' },
      force: { type: 'boolean', default: false, describe: 'write into a directory that is not empty' },
      list: { type: 'boolean', default: false, describe: 'list the templates and stop' },
    },
    examples: [['$0 init ~/sensor --template uboot', 'a product for U-Boot boards in ~/sensor']],
    load: () => import('./commands/init.js'),
  },
  {
    path: 'check',
    describe: 'validate the whole project (systems, layers, recipes, targets, test workflows): every problem, with file, line and key',
    examples: [['$0 check --json', 'for CI: one JSON document with every problem']],
    load: () => import('./commands/check.js'),
  },
  {
    path: 'list',
    describe: 'list systems, layers, recipes and targets',
    load: () => import('./commands/list.js'),
  },
  {
    path: 'cache ls',
    describe: 'list cached layers: key, layer, size, last use',
    load: () => import('./commands/cache-ls.js'),
  },
  {
    path: 'cache clean',
    describe: 'remove cached layers',
    options: {
      all: { type: 'boolean', default: false, describe: 'remove every cached layer' },
      'older-than': { type: 'string', describe: 'remove layers unused for this long (e.g. 7d, 12h)' },
      'keep-last': { type: 'number', describe: 'keep only the N most recently used layers' },
      debs: { type: 'boolean', default: false, describe: 'also remove downloaded .deb packages' },
    },
    load: () => import('./commands/cache-clean.js'),
  },
  {
    path: 'doctor',
    describe: 'check that this host can build and boot: Docker, binfmt, disk space, tools, QEMU, firmware, VM acceleration',
    options: { executor: EXECUTOR },
    load: () => import('./commands/doctor.js'),
  },
];

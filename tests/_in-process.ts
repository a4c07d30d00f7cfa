/**
 * Setup of the unit and actors projects (vitest.config.ts): their tests run in this process only, so a
 * worker thread or a child process started by one of them throws, naming the project to move the file to.
 */
import { refuseWork } from './_refuse.ts';

refuseWork((what) => {
  throw new Error(
    `${what} started in the unit or actors project: a test that starts threads or processes belongs to 'workers' (vitest.config.ts)`,
  );
});

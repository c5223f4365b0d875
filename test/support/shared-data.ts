/** Reference data from ../shared (beside the repository, in CI too). */
import { fileURLToPath } from 'node:url';

/** open-iris's sample eye and its own output for it (see ../shared/external/open-iris/README.md). */
export const OPEN_IRIS_SAMPLE_EYE = fileURLToPath(
  new URL('../../../shared/external/open-iris/sample-eye.png', import.meta.url),
);
export const OPEN_IRIS_EXPECTED_OUTPUT = fileURLToPath(
  new URL('../../../shared/external/open-iris/expected-output.json', import.meta.url),
);

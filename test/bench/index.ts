/** `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the same run. */
import { benchEdge } from "./edge";
import { benchLocal } from "./local";
import { benchOrigin } from "./origin";
import { benchSynth } from "./synth";
import { benchUploads } from "./uploads";
import { benchVariants } from "./variants";

await benchEdge();
await benchOrigin();
await benchLocal();
await benchUploads();
await benchVariants();
await benchSynth();

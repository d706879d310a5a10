/** `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the same run. */
import { benchEdge } from "./edge";

await benchEdge();

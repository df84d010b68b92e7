/** The one waiting helper of the tests (implemented in src/lab, where the lab's peers use it too). */
export { eventually, EventuallyTimeout, type EventuallyOptions } from '../../src/lab/eventually.js';

/**
 * A load-generator process: `node --import tsx src/initiator/main.ts`, driven over stdin/stdout
 * (see remote.ts). Logs (JSON, pino) go to stderr at SEGW_LOG_LEVEL (default warn).
 */
import { createRootLogger, setRootLogger } from '../log/index.js';
import { serveGenerator } from './remote.js';

const level = (process.env.SEGW_LOG_LEVEL ?? 'warn') as 'warn';
setRootLogger(createRootLogger({ level, destination: 2 }));
await serveGenerator(process.stdin, process.stdout);
process.exit(0);

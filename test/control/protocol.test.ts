/**
 * The control protocol's framing rules on raw lines: what is a request, what each malformed
 * line is answered with (stable codes), and how results are encoded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlError, ControlErrorCode, encodeResponse, parseRequest } from '../../src/control/protocol.js';
import { defaultSocketPath } from '../../src/config/control-socket.js';

const errorOf = (line: string) => {
  const r = parseRequest(line);
  assert.ok('error' in r, `expected an error for ${line}`);
  return { id: r.id, code: r.error.controlCode };
};

test('a request is {id, method, params}; id and params may be omitted', () => {
  assert.deepEqual(parseRequest('{"id":7,"method":"list-sas","params":{"ike":"ab"}}'), { id: 7, method: 'list-sas', params: { ike: 'ab' } });
  assert.deepEqual(parseRequest('{"method":"status"}'), { id: null, method: 'status', params: {} });
  assert.deepEqual(parseRequest('{"id":"x","method":"status","params":null}'), { id: 'x', method: 'status', params: {} });
});

test('malformed lines get stable codes, with the id echoed once it could be read', () => {
  assert.deepEqual(errorOf('not json'), { id: null, code: ControlErrorCode.PARSE_ERROR });
  assert.deepEqual(errorOf('[1,2]'), { id: null, code: ControlErrorCode.PARSE_ERROR });
  assert.deepEqual(errorOf('"status"'), { id: null, code: ControlErrorCode.PARSE_ERROR });
  assert.deepEqual(errorOf('{"id":{},"method":"status"}'), { id: null, code: ControlErrorCode.INVALID_REQUEST });
  assert.deepEqual(errorOf('{"id":3}'), { id: 3, code: ControlErrorCode.INVALID_REQUEST });
  assert.deepEqual(errorOf('{"id":3,"method":42}'), { id: 3, code: ControlErrorCode.INVALID_REQUEST });
  assert.deepEqual(errorOf('{"id":3,"method":"status","params":[1]}'), { id: 3, code: ControlErrorCode.INVALID_REQUEST });
  assert.deepEqual(errorOf(`{"id":3,"method":"${'m'.repeat(65)}"}`), { id: 3, code: ControlErrorCode.INVALID_REQUEST });
});

test('responses are one JSON line; bigint counters become decimal strings', () => {
  assert.equal(encodeResponse({ id: 1, result: { bytes: 2n ** 64n } }), '{"id":1,"result":{"bytes":"18446744073709551616"}}\n');
  const e = new ControlError(ControlErrorCode.NOT_FOUND, 'no IKE SA x');
  assert.equal(e.code, 'SEGW_CTL_NOT_FOUND');
  assert.equal(encodeResponse({ id: 'a', error: e.toBody() }), '{"id":"a","error":{"code":"NOT_FOUND","message":"no IKE SA x"}}\n');
});

test('the default socket path is per node under /run/segw', () => {
  assert.equal(defaultSocketPath('gw1'), '/run/segw/gw1.sock');
});

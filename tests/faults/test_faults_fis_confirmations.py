"""FIS posting confirmations are kept across a SIGKILL of the worker: posted documents whose
confirmation Concur has not accepted yet (it answers 199 "unknown error, retry later") are
confirmed after the restart, each exactly once (issue 16)."""

from __future__ import annotations

import pytest
import trio

from mlc import harness
from shared.config import load_config
from sim.webconnector.client import run_session

from faults_helpers import DEMO_CONFIG, WorkerProcess, all_posted, assert_exactly_once, free_port, read_db, states, until


@pytest.mark.trio
async def test_confirmations_survive_a_sigkill_and_go_out_exactly_once(tmp_path):
    port = free_port()
    config = load_config(DEMO_CONFIG)
    async with trio.open_nursery() as nursery:
        h = await harness.start(nursery, config, tmp_path / "run", reports=3, invoices=1, seed=5, worker_port=port, concur_port=0, start_worker=False)
        h.concur.companies[h.company].params.fis = True
        harness.edit_run_config(h, lambda raw: raw["companies"][0]["concur"].update(source="fis"))
        url = f"http://127.0.0.1:{port}"
        worker = WorkerProcess(h.config.path, url, tmp_path / "worker.log")
        company = h.config.companies[0]
        try:
            worker.start()
            await worker.wait_healthy()
            expected = harness.approve_everything(h)
            h.concur.fis.confirmation_codes = [199] * 1000  # Concur cannot take confirmations for now
            await h.concur.deliver_events(url + "/webhooks/concur")
            while not all_posted(h, expected):
                await run_session(url + "/qbwc", company.qbwc.username, h.password, h.company_file, None, h.clock, owner_id=company.qbwc.owner_id)
                await trio.sleep(0.05)
            await until(
                lambda: read_db(h, "SELECT COUNT(*) FROM fis_confirmations WHERE state = 'pending' AND code = 199")[0][0] == expected,
                20,
                "every confirmation queued and refused once",
            )
            worker.kill()
            h.concur.fis.confirmation_codes.clear()
            worker.start()
            await worker.wait_healthy()
            await until(
                lambda: read_db(h, "SELECT COUNT(*) FROM fis_confirmations WHERE state = 'done'")[0][0] == expected,
                30,
                f"confirmations sent after the restart ({states(h)})",
                pause_s=0.2,
            )
            assert_exactly_once(h, expected)
            for doc in read_db(h, "SELECT concur_id FROM documents"):
                [confirmation] = h.concur.fis_confirmations(doc["concur_id"])
                assert confirmation["overallPostingStatusCode"] == "success"
        except BaseException:
            print(worker.log_tail(80))
            raise
        finally:
            worker.kill()
            nursery.cancel_scope.cancel()

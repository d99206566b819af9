from kubedrill.redact import REDACTED, redact, redact_text

PEM = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB...\n-----END EC PRIVATE KEY-----"


def test_secret_keys_are_redacted_at_any_depth() -> None:
    data = {"configuration": {"kubeconfig": "/x"}, "secrets": {"k8s": {"token": "abc", "password": "p"}}}
    out = redact(data)
    assert out["configuration"]["kubeconfig"] == "/x"
    assert out["secrets"]["k8s"] == {"token": REDACTED, "password": REDACTED}


def test_pem_blocks_bearer_tokens_and_jwts_are_removed_from_any_string() -> None:
    text = f"cert {PEM} then Authorization: Bearer abcdefghijkl and eyJhbGciOi.eyJzdWIiOiJ4.c2lnbmF0dXJl"
    out = redact_text(text)
    assert "PRIVATE KEY" not in out
    assert "abcdefghijkl" not in out
    assert "eyJhbGciOi" not in out


def test_lists_and_non_strings_survive() -> None:
    assert redact([1, None, {"client_key": "x"}]) == [1, None, {"client_key": REDACTED}]


def test_the_chaos_control_redacts_the_journal_in_place_and_every_log_record() -> None:
    import logging

    from kubedrill.chaos import control

    key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----"
    journal = {
        "experiment": {"configuration": {"etcd_key": key}, "secrets": {"k8s": {"token": "s3cr3t-t0ken"}}},
        "status": "completed",
    }
    control.after_experiment_control(context={}, state=journal)
    assert journal["status"] == "completed"
    assert "MHcCAQEEIB" not in str(journal)
    assert "s3cr3t-t0ken" not in str(journal)

    control.configure_control()
    control.configure_control()  # idempotent
    logger = logging.getLogger(control.LOGGER)
    assert logger.filters.count(control._FILTER) == 1
    record = logger.makeRecord(control.LOGGER, logging.INFO, __file__, 1, "using %s", (key,), None)
    assert all(f.filter(record) for f in logger.filters)
    assert record.getMessage() == "using <redacted>"

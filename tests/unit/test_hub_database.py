"""The hub's SQLite database in WAL mode (swarmhub.hub.database), and only it."""

from sqlalchemy import create_engine, text

from swarmhub.hub.database import use_write_ahead_log

NORMAL = 1  # PRAGMA synchronous: 0 OFF, 1 NORMAL, 2 FULL


def modes(url: str) -> tuple[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            journal = connection.execute(text("PRAGMA journal_mode")).scalar_one()
            synchronous = connection.execute(text("PRAGMA synchronous")).scalar_one()
            return journal, synchronous
    finally:
        engine.dispose()


def test_the_hubs_database_uses_wal_and_another_database_keeps_its_mode(tmp_path):
    hub_db, other_db = tmp_path / "jupyterhub.sqlite", tmp_path / "activity.sqlite"
    use_write_ahead_log(f"sqlite:///{hub_db}")
    assert modes(f"sqlite:///{hub_db}") == ("wal", NORMAL)
    journal, synchronous = modes(f"sqlite:///{other_db}")
    assert journal == "delete" and synchronous != NORMAL


def test_the_same_database_named_by_another_path_is_recognised(tmp_path):
    real = tmp_path / "data" / "jupyterhub.sqlite"
    real.parent.mkdir()
    (tmp_path / "link").symlink_to(real.parent)
    use_write_ahead_log(f"sqlite:///{tmp_path / 'link' / 'jupyterhub.sqlite'}")
    assert modes(f"sqlite:///{real}") == ("wal", NORMAL)


def test_a_database_in_memory_is_left_alone():
    use_write_ahead_log("sqlite://")
    use_write_ahead_log("sqlite:///:memory:")
    assert modes("sqlite://") == ("memory", 2)

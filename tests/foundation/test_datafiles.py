"""Where the model data folder is, and official base_data folders as they are."""

from backend.datafiles import ALL_FILES, ENV_DATA_DIR, files_for, resolve_data_dir


def test_env_variable_overrides_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "mine"))
    assert resolve_data_dir(None) == (tmp_path / "mine").resolve()


def test_explicit_folder_beats_the_env_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "cli") == (tmp_path / "cli").resolve()


def test_default_is_a_per_user_folder_without_the_env_variable(monkeypatch):
    monkeypatch.delenv(ENV_DATA_DIR, raising=False)
    path = resolve_data_dir(None)
    assert "tcmr-mocap" in str(path) and path.name == "base_data"


def test_a_tcmr_checkout_data_folder_is_accepted_as_it_is(tmp_path):
    (tmp_path / "data" / "base_data").mkdir(parents=True)
    assert resolve_data_dir(tmp_path / "data") == (tmp_path / "data" / "base_data").resolve()


def test_official_names_and_what_each_command_needs():
    names = {f.name for f in ALL_FILES}
    assert names == {"SMPL_NEUTRAL.pkl", "J_regressor_extra.npy", "J_regressor_h36m.npy",
                     "smpl_mean_params.npz", "spin_model_checkpoint.pth.tar", "tcmr_demo_model.pth.tar"}
    assert "spin_model_checkpoint.pth.tar" in {f.name for f in files_for("run")}
    assert "spin_model_checkpoint.pth.tar" not in {f.name for f in files_for("regress")}

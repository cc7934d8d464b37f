"""fer_core.errors: located messages, and the two error types that use them."""
from fer_core.data.dataset import DataError
from fer_core.errors import located
from fer_core.data.flags import FlagError


def test_located_parts():
    assert located("bad", file="/a/b/x.csv", place="row 3 (line 5)", field="pixels") == \
        "x.csv, row 3 (line 5), field 'pixels': bad"
    assert located("bad", field="note") == "field 'note': bad"
    assert located("bad") == "bad"


def test_data_and_flag_errors_name_their_place():
    assert str(DataError("too short", file="/d/fer2013.csv", row=4, field="pixels")) == \
        "fer2013.csv, row 4 (line 6), field 'pixels': too short"
    assert str(FlagError("unknown decision", file="/d/flags.csv", csv_row=2, field="decision")) == \
        "flags.csv, CSV row 2 (line 3), field 'decision': unknown decision"

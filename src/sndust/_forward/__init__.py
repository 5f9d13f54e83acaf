from ._flux import PreparedSurvey as PreparedSurvey
from ._flux import SurveyInfo as SurveyInfo
from ._prepare import prepare as prepare

"""The column maps of the real point files in ``../shared/data/openaddresses`` (each county's own
schema onto the OpenAddresses fields), for the loader tests and the accuracy benchmark."""

from __future__ import annotations

from addressing.gazetteer.openaddresses import ColumnMap

CM = ColumnMap.parse
OA_MAPS = {
    "sf_eas_addresses_with_units.csv": CM("number=ADDR_NUM+ADDR_N_SFX,street=ST_NAME+ST_TYPE,unit=UNIT_NUM,"
                                          "postcode=ZIPCODE,id=EAS_SUBID", "city=SAN FRANCISCO,region=CA"),
    "alameda_spad_oakland.csv": CM("number=ST_NUM,street=DIRPRE+FEANME+FEATYP+DIRSUF,unit=UNIT,unit_type=UNIT_TYP,"
                                   "city=CITY,postcode=ZIPCODE,id=SPADID", "region=CA"),
    "berkeley_parcels.csv": CM("number=StreetNum,street=Direction+StreetName+StreetSufx,unit=Unit,city=City,"
                               "postcode=Zip,region=State,id=APN"),
    "trumbull_county_oh_points.csv": CM("number=HOUSENUM,street=ST_PREFIX+ST_NAME+ST_TYPE+ST_SUFFIX,"
                                        "alt_street=ALTPREFIX+ALTNAME+ALTTYPE+ALTSUFFIX,unit=UNITNUM,city=USPS_CITY,"
                                        "postcode=ZIPCODE,region=STATE,id=FEATUREID"),
    "park_county_wy_points.csv": CM("address=DLVRY_ADD,id=UID", "region=WY"),
    "sevier_county_ut_points.csv": CM("number=AddNum+AddNumSuff,street=PrefixDir+StreetName+StreetType+SuffixDir,"
                                      "unit=UnitID,unit_type=UnitType,city=City,postcode=ZipCode,region=State,"
                                      "id=UTAddPtID"),
}
